-- ducq lua clients/sub.lua ROUTE [COUNT]
-- Prints each message on ROUTE (wildcards * + #) as "route<TAB>payload",
-- the stored ones first; stops after COUNT messages when given.
local route, count = arg[1] or "#", tonumber(arg[2])
local c = Ducq.connect()
c:sub(route, "last")
local seen = 0
c:listen(function(_, msg)
  print(msg.route .. "\t" .. msg.payload)
  seen = seen + 1
  if count and seen >= count then
    return Ducq.stop
  end
end)
