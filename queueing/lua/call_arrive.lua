-- call_arrive: creates the call record (state ivr) when Asterisk hands a caller to the IVR.
-- ARGV[3..] call_id, caller (may be empty: number withheld), channel, language
-- Reply: call_id, state
-- Every field of the record is written now (empty when not known yet) so readers always
-- see the same fields.
return run(function()
  local call_id = arg_id(3, 'call_id')
  local caller = arg_text(4)
  local channel = ARGV[5]
  if channel == nil or channel == '' then refuse('channel is required for call ' .. call_id) end
  local language = arg_text(6)

  local existing = load_call(call_id)
  if existing then
    refuse('call ' .. call_id .. ' already exists (state ' .. existing.state .. ')')
  end

  local now = int_str(NOW)
  redis.call('HSET', call_key(call_id),
    'call_id', call_id, 'caller', caller, 'channel', channel, 'state', 'ivr',
    'arrived_ms', now, 'language', language,
    'queue', '', 'choice', '', 'priority', '', 'route_reason', '', 'queued_ms', '',
    'queue_score', '', 'desk', '', 'offered_ms', '', 'answered_ms', '', 'ended_ms', '',
    'outcome', '', 'abandon_stage', '', 'wait_ms', '', 'ring_attempts', '0',
    'last_ring_status', '', 'fallback_reason', '')
  redis.call('ZADD', K_CALLS, now, call_id)
  redis.call('SADD', K_ACTIVE, call_id)
  emit('call_arrived', 'call_id', call_id, 'caller', caller, 'channel', channel, 'state', 'ivr')
  return { 'call_id', call_id, 'state', 'ivr' }
end)
