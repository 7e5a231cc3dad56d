-- bridge_heartbeat: a bridge says it is alive (every second or two), with its AMI link's state
-- and its event loop's lag, for the supervisors' wallboard. One hash, bridges, field = bridge
-- id, value = JSON {bridge_id, heartbeat_ms, ami_up, ami_since_ms, loop_lag_ms}. A change of
-- the AMI link is an event (a heartbeat alone is not: it would flood the stream). Bridges
-- silent for a day are dropped, so the hash holds the bridges of today, stale ones included.
-- The bridge's Lua script timings (queueing/script_timing.py, JSON text) ride along as `lua`,
-- kept as text: GET /metrics reads them.
-- ARGV[3] bridge_id, [4] ami_up ('1' or '0'), [5] loop_lag_ms, [6] script timings (JSON object or '')
-- Reply: bridge_id, ami_up, ami_since_ms, changed
local FORGET_AFTER_MS = 86400000
return run(function()
  local bridge_id = arg_id(3, 'bridge_id')
  local ami_up = ARGV[4]
  if ami_up ~= '1' and ami_up ~= '0' then refuse('ami_up must be 1 or 0, got ' .. tostring(ami_up)) end
  local lag = arg_int(5, 'loop_lag_ms', 0)
  local timings = ARGV[6] or ''
  if #timings > 65536 then refuse('script timings longer than 65536 bytes') end
  if timings ~= '' then
    local ok, decoded = pcall(cjson.decode, timings)
    if not ok or type(decoded) ~= 'table' then refuse('script timings must be a JSON object') end
  end
  local key = PREFIX .. 'bridges'
  local before = redis.call('HGET', key, bridge_id)
  local previous = before and cjson.decode(before) or nil
  local since = NOW
  local changed = previous == nil or previous.ami_up ~= ami_up
  if not changed then since = tonumber(previous.ami_since_ms) or NOW end
  redis.call('HSET', key, bridge_id, cjson.encode({
    bridge_id = bridge_id, heartbeat_ms = int_str(NOW), ami_up = ami_up, ami_since_ms = int_str(since),
    loop_lag_ms = int_str(lag), lua = timings }))
  if changed then
    emit('bridge_ami', 'bridge_id', bridge_id, 'ami_up', ami_up, 'previous', previous and previous.ami_up or '')
  end
  local all = redis.call('HGETALL', key)
  for i = 1, #all, 2 do
    local beat = tonumber(cjson.decode(all[i + 1]).heartbeat_ms) or 0
    if NOW - beat > FORGET_AFTER_MS then redis.call('HDEL', key, all[i]) end
  end
  return { 'bridge_id', bridge_id, 'ami_up', ami_up, 'ami_since_ms', int_str(since),
    'changed', changed and '1' or '0' }
end)
