-- call_arrive: creates the call record (state ivr) when Asterisk hands a caller to the IVR.
-- ARGV[3..] call_id, caller (may be empty: number withheld), channel, language,
--          repeat_window_ms (optional, default 600000: [numbers] repeat_window_s)
-- Reply: call_id, state, previous_call_id, repeat_count
-- Repeat callers: a call from the same (callable) number within repeat_window_ms of that
-- number's last call is linked to it (previous_call_id) and counts one more repeat
-- (repeat_count: 0 for a first call, 1 for the first repeat, ...).
-- Every field of the record is written now (empty when not known yet) so readers always
-- see the same fields.
return run(function()
  local call_id = arg_id(3, 'call_id')
  local caller = arg_text(4)
  local channel = ARGV[5]
  if channel == nil or channel == '' then refuse('channel is required for call ' .. call_id) end
  local language = arg_text(6)
  local repeat_window = 600000
  if ARGV[7] ~= nil and ARGV[7] ~= '' then repeat_window = arg_int(7, 'repeat_window_ms', 0) end

  local existing = load_call(call_id)
  if existing then
    refuse('call ' .. call_id .. ' already exists (state ' .. existing.state .. ')')
  end

  local now = int_str(NOW)
  local previous_call_id, repeat_count = '', 0
  if callable_number(caller) then
    local nkey = number_key(caller)
    local last = redis.call('HMGET', nkey, 'last_call_id', 'last_call_ms', 'repeat_count')
    if last[1] and last[2] and NOW - tonumber(last[2]) <= repeat_window then
      previous_call_id, repeat_count = last[1], (tonumber(last[3]) or 0) + 1
    end
    redis.call('HSET', nkey, 'number', caller, 'last_call_id', call_id, 'last_call_ms', now,
      'repeat_count', int_str(repeat_count))
    redis.call('PEXPIRE', nkey, NUMBER_TTL_MS)
    redis.call('ZADD', nkey .. ':calls', now, call_id)
    redis.call('ZREMRANGEBYRANK', nkey .. ':calls', 0, -(NUMBER_CALLS_KEPT + 1))
    redis.call('PEXPIRE', nkey .. ':calls', NUMBER_TTL_MS)
  end
  redis.call('HSET', call_key(call_id),
    'call_id', call_id, 'caller', caller, 'channel', channel, 'state', 'ivr',
    'arrived_ms', now, 'language', language,
    'queue', '', 'choice', '', 'priority', '', 'route_reason', '', 'queued_ms', '',
    'queue_score', '', 'desk', '', 'offered_ms', '', 'answered_ms', '', 'ended_ms', '',
    'outcome', '', 'abandon_stage', '', 'wait_ms', '', 'ring_attempts', '0',
    'last_ring_status', '', 'fallback_reason', '',
    'previous_call_id', previous_call_id, 'repeat_count', int_str(repeat_count), 'policy_applied', '')
  redis.call('ZADD', K_CALLS, now, call_id)
  redis.call('SADD', K_ACTIVE, call_id)
  emit('call_arrived', 'call_id', call_id, 'caller', caller, 'channel', channel, 'state', 'ivr',
    'previous_call_id', previous_call_id, 'repeat_count', int_str(repeat_count))
  return { 'call_id', call_id, 'state', 'ivr', 'previous_call_id', previous_call_id,
    'repeat_count', int_str(repeat_count) }
end)
