-- wall: sends "PING _\n<payload>" to every connected client, the caller
-- included (that PING is its answer). The payload defaults to "ping".
commands.wall = {
  doc = "PING every client (the caller too) with the payload: wall _\n<text>",
  exec = function(ducq, msg)
    local payload = msg.payload
    if payload == nil or payload == '' then
      payload = 'ping'
    end
    -- clients() yields one pair per subscription: ping each client once.
    local seen = {}
    for client in ducq:clients() do
      local id = client:id()
      if id and not seen[id] then
        seen[id] = true
        client:send('PING _\n' .. payload)
      end
    end
    return 0
  end
}
