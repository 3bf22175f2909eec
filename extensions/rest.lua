-- A mock REST resource: values stored by key in this script (they last
-- until the file is reloaded or the server stops).
--   put <key>\n<value>  stores the value (an empty value deletes), then ACK
--   get <key>           the value, or NACK 19 when there is none
--   get                 PARTS, one stored key per line (sorted), END
local Ducq = require('LuaDucq')
local store = {}

commands.put = {
  doc = "store a value: put <key>\n<value> (an empty value deletes the key)",
  exec = function(ducq, msg)
    if msg.route == '' then
      return Ducq.EMSGINV
    end
    if msg.payload == '' then
      store[msg.route] = nil
    else
      store[msg.route] = msg.payload
    end
    return ducq:sendack()
  end
}

commands.get = {
  doc = "read a value: get <key>; without a key, list the keys",
  exec = function(ducq, msg)
    if msg.route == '' then
      local keys = {}
      for k in pairs(store) do
        keys[#keys + 1] = k
      end
      table.sort(keys)
      ducq:send('PARTS')
      for _, k in ipairs(keys) do
        ducq:send(k .. '\n')
      end
      return ducq:send('END')
    end
    local value = store[msg.route]
    if value == nil then
      return Ducq.ENOTFOUND
    end
    return ducq:send(value)
  end
}
