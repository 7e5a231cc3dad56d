-- resource_shortage: Asterisk refused callers or left desks unrung for lack of RTP ports,
-- channels or open files, as a bridge read it in Asterisk's warnings log
-- (telephony/resource_watch.py): counted for GET /metrics (resources:shortages), kept a day
-- for the supervisors' alert (resources:recent), and one audit line per resource
-- (event resource_shortage). A bridge records one stretch of the log at a time, from where the
-- last one recorded ended (resources:log): a stretch is recorded once however many bridges
-- read the log, and a bridge that was down reads on from there.
-- ARGV[3] log (its path), [4] file_id (which file: device and inode), [5] from_offset,
--      [6] to_offset, [7] restart ('1': the file was rotated or truncated, read from 0),
--      [8] bridge_id, [9] tallies: JSON object, resource -> {shortages, callers_refused,
--      desks_unrung, desks: [desk ids], line: the first cause line}
-- Reply: recorded (1, or 0: another stretch was recorded first: read on from file/offset),
--        file, offset, shortages
local KEEP_MS = 86400000
local MAX_LINE = 300
return run(function()
  local log = arg_text(3)
  if log == '' or #log > 1000 then refuse('log must be a path of 1 to 1000 characters') end
  local file_id = arg_id(4, 'file_id')
  local from = arg_int(5, 'from_offset', 0)
  local to = arg_int(6, 'to_offset', from)
  local restart = ARGV[7]
  if restart ~= '1' and restart ~= '0' then refuse('restart must be 1 or 0, got ' .. tostring(restart)) end
  local bridge_id = arg_id(8, 'bridge_id')
  local ok, tallies = pcall(cjson.decode, ARGV[9] or '')
  if not ok or type(tallies) ~= 'table' then refuse('tallies must be a JSON object') end
  local resources = {}
  for resource, t in pairs(tallies) do
    if type(resource) ~= 'string' or not string.match(resource, '^[a-z_]+$') then
      refuse('resource ' .. tostring(resource) .. ' is not a resource name')
    end
    if type(t) ~= 'table' then refuse(resource .. ': tally must be an object') end
    for _, name in ipairs({ 'shortages', 'callers_refused', 'desks_unrung' }) do
      local n = t[name]
      if type(n) ~= 'number' or n < 0 or n ~= math.floor(n) then
        refuse(resource .. '.' .. name .. ' must be a non-negative integer')
      end
    end
    if type(t.desks or {}) ~= 'table' then refuse(resource .. '.desks must be a list') end
    for _, desk in ipairs(t.desks or {}) do check_id(desk, resource .. '.desks[]') end
    resources[#resources + 1] = resource
  end
  table.sort(resources)

  local log_key = PREFIX .. 'resources:log'
  local stored = redis.call('HGET', log_key, log)
  if stored then
    local stored_file, stored_offset = string.match(stored, '^(%S+) (%d+)$')
    stored_offset = tonumber(stored_offset)
    local goes_on = stored_file == file_id and stored_offset == from
    local starts_again = restart == '1' and from == 0 and (stored_file ~= file_id or stored_offset > to)
    if not goes_on and not starts_again then
      return { 'recorded', '0', 'file', stored_file, 'offset', int_str(stored_offset), 'shortages', '0' }
    end
  end
  redis.call('HSET', log_key, log, file_id .. ' ' .. int_str(to))

  local total = 0
  for _, resource in ipairs(resources) do
    local t = tallies[resource]
    local desks = table.concat(t.desks or {}, ',')
    redis.call('HINCRBY', PREFIX .. 'resources:shortages', resource, t.shortages)
    redis.call('HINCRBY', PREFIX .. 'resources:shortages', resource .. ':caller', t.callers_refused)
    redis.call('HINCRBY', PREFIX .. 'resources:shortages', resource .. ':desk', t.desks_unrung)
    redis.call('ZADD', PREFIX .. 'resources:recent', NOW, cjson.encode({
      resource = resource, shortages = t.shortages, callers_refused = t.callers_refused,
      desks_unrung = t.desks_unrung, file = file_id, from = from }))
    emit('resource_shortage', 'resource', resource, 'shortages', int_str(t.shortages),
      'callers_refused', int_str(t.callers_refused), 'desks_unrung', int_str(t.desks_unrung), 'desks', desks,
      'line', string.sub(tostring(t.line or ''), 1, MAX_LINE), 'bridge_id', bridge_id, 'log', log)
    total = total + t.shortages
  end
  redis.call('ZREMRANGEBYSCORE', PREFIX .. 'resources:recent', '-inf', '(' .. int_str(NOW - KEEP_MS))
  return { 'recorded', '1', 'file', file_id, 'offset', int_str(to), 'shortages', int_str(total) }
end)
