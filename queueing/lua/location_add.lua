-- location_add: one location fix of a caller number (AML from the handset, the network, or what
-- the caller said), kept on the number's trail location:{n} (score = when the fix was taken).
-- The console shows the fixes near the call's time; nothing is ever written into an incident
-- from here: a call-taker copies a fix by hand.
-- ARGV[3..] number, lat, lon, radius_m, at_ms (when the fix was taken; empty = now), source,
--          method (e.g. GNSS, WiFi, Cell; optional), confidence (percent; optional)
-- Reply: number, at_ms, call_id (the number's call going on now, or "")
local SOURCES = { aml = true, network = true, caller = true, lab = true }
local TRAIL_KEPT = 20                      -- newest fixes kept per number
local TRAIL_TTL_MS = 24 * 3600 * 1000      -- a number not located for a day has no trail

local function arg_number(i, name, min, max)
  local v = tonumber(ARGV[i])
  if v == nil or v ~= v then refuse(name .. ' must be a number, got ' .. string.format('%q', ARGV[i] or '')) end
  if v < min or v > max then
    refuse(name .. ' must be between ' .. tostring(min) .. ' and ' .. tostring(max) .. ', got ' .. ARGV[i])
  end
  return v
end

return run(function()
  local number = ARGV[3] or ''
  if not callable_number(number) then
    refuse('number ' .. string.format('%q', number) .. ' is not a caller number (an optional + and 3-20 digits)')
  end
  local lat = arg_number(4, 'lat', -90, 90)
  local lon = arg_number(5, 'lon', -180, 180)
  local radius = arg_number(6, 'radius_m', 0, 100000)
  local at = NOW
  if (ARGV[7] or '') ~= '' then at = arg_int(7, 'at_ms', 0, NOW + 60000) end
  local source = arg_text(8)
  if not SOURCES[source] then
    refuse('source ' .. string.format('%q', source) .. ' is not one of aml, network, caller, lab')
  end
  local method = arg_text(9)
  if #method > 40 or string.find(method, '[%c]') then refuse('method must be at most 40 printable characters') end
  local confidence = ''
  if (ARGV[10] or '') ~= '' then confidence = arg_number(10, 'confidence', 0, 100) end

  local key = PREFIX .. 'location:' .. number
  local fix = cjson.encode({ lat = lat, lon = lon, radius_m = radius, at_ms = at, received_ms = NOW,
    source = source, method = method, confidence = confidence })
  redis.call('ZADD', key, int_str(at), fix)
  redis.call('ZREMRANGEBYRANK', key, 0, -(TRAIL_KEPT + 1))
  redis.call('PEXPIRE', key, TRAIL_TTL_MS)

  -- The number's call going on now hears of it at once (its page refreshes the pop).
  local call_id = redis.call('HGET', number_key(number), 'last_call_id') or ''
  local call = nil
  if call_id ~= '' and redis.call('SISMEMBER', K_ACTIVE, call_id) == 1 then call = load_call(call_id) end
  if call then
    redis.call('HSET', call_key(call_id), 'location_ms', int_str(at))
  else
    call_id = ''
  end
  emit('location_added', 'call_id', call_id, 'number', number, 'queue', call and call.queue or '',
    'desk_id', call and call.desk or '', 'source', source, 'at_ms', int_str(at))
  return { 'number', number, 'at_ms', int_str(at), 'call_id', call_id }
end)
