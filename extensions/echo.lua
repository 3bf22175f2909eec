-- echo: answers the caller with its own message, in wire form.
commands.echo = {
  doc = "answer the message itself: echo <route>\n<payload>",
  exec = function(ducq, msg)
    return ducq:send(tostring(msg))
  end
}
