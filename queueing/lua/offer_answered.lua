-- offer_answered: the desk picked up. ringing -> on_call for the call and the desk.
-- ARGV[3..] call_id, desk_id
-- Reply: call_id, desk_id, wait_ms (arrival at the hotline -> answered by a call-taker)
-- first_answered_ms is written by the call's first answer only: a caller transferred to another
-- agency is answered again (answered_ms, wait_ms: the target desk's), and the answer time of the
-- call (queueing/kpis.py, docs/kpis.md) is the first one's.
-- A citizen who got through needs no callback: the number's open callback task (pending or
-- retry_at) becomes not_needed; one being dialled is closed by its outcome instead
-- (callback_outcome checks the number's last_answered_ms).
return run(function()
  local call_id = arg_id(3, 'call_id')
  local desk_id = arg_id(4, 'desk_id')

  local call = load_call(call_id)
  if not call then refuse('unknown call ' .. call_id) end
  local desk = load_desk(desk_id)
  if not desk then refuse('unknown desk ' .. desk_id) end
  if call.state ~= 'ringing' or call.desk ~= desk_id then
    refuse('call ' .. call_id .. ' is ' .. call.state .. ', not ringing at desk ' .. desk_id)
  end
  if desk.state ~= 'ringing' or desk.call_id ~= call_id then
    refuse('desk ' .. desk_id .. ' is ' .. desk.state .. ', not ringing with call ' .. call_id)
  end

  local now = int_str(NOW)
  local wait = int_str(NOW - tonumber(call.arrived_ms))
  redis.call('ZREM', K_OFFERS, call_id)
  redis.call('HSET', call_key(call_id), 'state', 'on_call', 'answered_ms', now, 'wait_ms', wait,
    'last_ring_status', 'ANSWER')
  if (call.first_answered_ms or '') == '' then
    redis.call('HSET', call_key(call_id), 'first_answered_ms', now)
  end
  -- An answered call ends a run of missed calls.
  redis.call('HSET', desk_key(desk_id), 'state', 'on_call', 'since_ms', now, 'misses', '0')
  emit('answered', 'call_id', call_id, 'desk_id', desk_id, 'wait_ms', wait, 'state', 'on_call')
  if callable_number(call.caller) then
    local nkey = number_key(call.caller)
    redis.call('HSET', nkey, 'last_answered_ms', now, 'last_answered_call', call_id)
    redis.call('PEXPIRE', nkey, NUMBER_TTL_MS)
    local open = redis.call('HGET', nkey, 'open_callback')
    local task = open and load_hash(callback_key(open))
    if task and (task.status == 'pending' or task.status == 'retry_at') then
      close_callback(task, 'not_needed', 'called again and was answered (call ' .. call_id .. ')')
    end
  end
  return { 'call_id', call_id, 'desk_id', desk_id, 'wait_ms', wait }
end)
