-- myid: tells the caller how the server sees it: "<id> <route>", one line
-- per subscription ("<id> " when it holds none).
commands.myid = {
  doc = "the caller's id and route as the server lists them: <id> <route>",
  exec = function(ducq, msg)
    for client, route in ducq:clients() do
      if client == ducq then
        ducq:send(ducq:id() .. ' ' .. route)
      end
    end
    return 0
  end
}
