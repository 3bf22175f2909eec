-- ducq lua clients/monitor.lua
-- In the style of the original CLI's Lua client: the request as globals,
-- the answers through callbacks. Follows the server's log lines.
command = "sub"
route = "LOG"
payload = ""

local GREY, RED, NORMAL = "\27[90m", "\27[91m", "\27[39m"

-- A log line is "level,function,sender,text": the text may hold spaces,
-- so the message is put back together.
onMessage = function(ducq, msg)
  local line = msg.command
  if msg.route ~= "" then line = line .. " " .. msg.route end
  if msg.payload ~= "" then line = line .. "\n" .. msg.payload end
  print(line)
  return 0
end

onProtocol = function(ducq, msg)
  if not silent then print(GREY .. msg.command .. NORMAL) end
  return 0
end

onNack = function(ducq, msg)
  print(RED .. msg.payload .. NORMAL)
  return -1
end

onError = function(ducq, err)
  print(RED .. err.payload .. NORMAL)
  return -1
end

finalize = function()
  print("bye")
end
