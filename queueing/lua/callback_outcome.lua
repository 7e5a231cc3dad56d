-- callback_outcome: records how an attempt to call a citizen back ended. The next state is
-- decided in Python (queueing.callbacks.decide, a pure function); this script applies it
-- atomically, only to the task as the caller last saw it.
-- ARGV[3..] call_id, expected ("dialing": an auto-dial attempt that callback_claim booked;
--           "open": a call-taker calling back by hand, task pending or retry_at),
--           outcome, status (retry_at, reached, given_up or not_needed), attempts,
--           next_attempt_ms (for retry_at), reason, desk_id (who called by hand; may be empty)
-- Reply: the task's fields after the change, then result ("recorded", or "noop" when the
--        task was already final: an outcome reported twice changes nothing).
-- The desk booked for an auto-dial attempt (paused "callback <call_id>") is made ready again
-- unless the citizen was reached: then the call-taker is talking, and sets Ready when done.
-- A retry for a citizen who got through to a desk meanwhile becomes not_needed instead.
local NEXT = { retry_at = true, reached = true, given_up = true, not_needed = true }

return run(function()
  local call_id = arg_id(3, 'call_id')
  local expected = ARGV[4] or ''
  if expected ~= 'dialing' and expected ~= 'open' then
    refuse('expected must be dialing or open, got ' .. string.format('%q', expected))
  end
  local outcome = arg_id(5, 'outcome')
  local status = ARGV[6] or ''
  if not NEXT[status] then
    refuse('status must be retry_at, reached, given_up or not_needed, got '
      .. string.format('%q', status))
  end
  local attempts = arg_int(7, 'attempts', 0, 1000)
  local next_attempt = ''
  if status == 'retry_at' then next_attempt = int_str(arg_int(8, 'next_attempt_ms', 0)) end
  local reason = arg_text(9)
  local by_desk = ARGV[10] or ''
  if by_desk ~= '' then check_id(by_desk, 'desk_id') end

  local task = load_hash(callback_key(call_id))
  if not task then refuse('unknown callback ' .. call_id) end
  local function answer(result)
    local flat = redis.call('HGETALL', callback_key(call_id))
    flat[#flat + 1] = 'result'
    flat[#flat + 1] = result
    return flat
  end
  if not CALLBACK_OPEN[task.status] then return answer('noop') end
  if expected == 'dialing' and task.status ~= 'dialing' then
    refuse('callback ' .. call_id .. ' is ' .. task.status .. ', not dialing')
  end
  if expected == 'open' and task.status == 'dialing' then
    refuse('callback ' .. call_id .. ' is being dialled from desk ' .. task.desk)
  end

  local now = int_str(NOW)
  if task.status == 'dialing' and task.desk ~= '' then
    local desk = load_desk(task.desk)
    if desk and desk.state == 'paused' and desk.reason == 'callback ' .. call_id
        and outcome ~= 'reached' then
      make_desk_ready(task.desk, desk.agency)
      emit('desk_state', 'desk_id', task.desk, 'agency', desk.agency, 'state', 'ready',
        'previous', 'paused', 'reason', 'callback ' .. call_id .. ' ' .. outcome)
      wake('desk_ready')
    end
  end
  if status == 'retry_at' then
    local answered = answered_since(task)
    if answered then
      status, next_attempt = 'not_needed', ''
      reason = 'called again and was answered (call ' .. answered .. ')'
    end
  end

  -- A call-taker's attempt by hand was never claimed: its first_attempt_ms is when its outcome came
  -- (an automatic one's is set by callback_claim). Closing the task by hand (not_needed) is no attempt.
  if (task.first_attempt_ms or '') == '' and outcome ~= 'not_needed' then
    redis.call('HSET', callback_key(call_id), 'first_attempt_ms', now)
  end
  local desk_id = by_desk ~= '' and by_desk or task.desk
  redis.call('HSET', callback_key(call_id), 'last_outcome', outcome, 'attempts', int_str(attempts),
    'desk', desk_id, 'updated_ms', now)
  if status == 'retry_at' then
    redis.call('HSET', callback_key(call_id), 'status', status, 'next_attempt_ms', next_attempt,
      'reason', reason)
  else
    close_callback(task, status, reason)
  end
  emit('callback_attempt', 'call_id', call_id, 'outcome', outcome, 'attempts', int_str(attempts),
    'status', status, 'desk_id', desk_id, 'next_attempt_ms', next_attempt, 'reason', reason)
  return answer('recorded')
end)
