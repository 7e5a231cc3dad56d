-- call_fallback: ivr / queued -> fallback. Asterisk's own static queue took the caller
-- (IVR failure or stale bridge heartbeat); the call stays active until its hangup, which
-- ends it with outcome "fallback".
-- ARGV[3..] call_id, reason
-- Reply: call_id, state, previous
return run(function()
  local call_id = arg_id(3, 'call_id')
  local reason = arg_text(4)

  local call = load_call(call_id)
  if not call then refuse('unknown call ' .. call_id) end
  local previous = call.state
  if previous ~= 'ivr' and previous ~= 'queued' then
    refuse('call ' .. call_id .. ' is ' .. previous
      .. '; only ivr or queued calls can go to the fallback')
  end

  if previous == 'queued' then
    redis.call('ZREM', queue_key(call.queue), call_id)
  end
  redis.call('HSET', call_key(call_id), 'state', 'fallback', 'fallback_reason', reason)
  emit('call_fallback', 'call_id', call_id, 'state', 'fallback', 'previous', previous,
    'reason', reason)
  return { 'call_id', call_id, 'state', 'fallback', 'previous', previous }
end)
