-- A tiny chat. Rooms are routes "chat/<room>": join one with
-- "sub chat/<room>\n" (or "sub chat/<room>\nadd" to stay in others).
--   say <room>\n<text>  publishes "<id>: <text>" to the room, then ACKs (a
--                       speaker in the room hears its line before the ACK)
--   who <room>          PARTS, one member id per line, END
local Ducq = require('LuaDucq')

local function room_of(msg)
  if msg.route == '' or msg.route:find('[%c]') then
    return nil
  end
  return 'chat/' .. msg.route
end

commands.say = {
  doc = "say something in a chat room: say <room>\n<text> (members subscribe to chat/<room>)",
  exec = function(ducq, msg)
    local room = room_of(msg)
    if not room or msg.payload == '' then
      return Ducq.EMSGINV
    end
    local state = reactor:publish(room, ducq:id() .. ': ' .. msg.payload)
    if state ~= Ducq.OK then
      return state
    end
    return ducq:sendack()
  end
}

commands.who = {
  doc = "list the members of a chat room: who <room>",
  exec = function(ducq, msg)
    local room = room_of(msg)
    if not room then
      return Ducq.EMSGINV
    end
    ducq:send('PARTS')
    reactor:loop(function(client, route)
      if route == room then
        ducq:send(client:id() .. '\n')
      end
      return reactor.continue
    end)
    return ducq:send('END')
  end
}
