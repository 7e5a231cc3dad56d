-- call_hangup: the caller's channel is gone; ends the call whatever its state.
--   ivr / queued / ringing -> abandoned (abandon_stage = that state), added to
--                             callbacks:{queue} (general if the caller never chose);
--                             a ringing desk goes back to ready without a miss
--   on_call                -> ended, outcome answered; the desk goes to wrap-up
--   fallback               -> ended, outcome fallback
--   ended / abandoned      -> nothing: Asterisk may report a hangup twice
-- ARGV[3..] call_id, wrap_up_ms
-- Reply: result ("abandoned", "ended" or "noop"), call_id, state, previous (state before),
--        outcome, abandon_stage, desk_id, desk_state (both empty when no desk was involved)
return run(function()
  local call_id = arg_id(3, 'call_id')
  local wrap_up = arg_int(4, 'wrap_up_ms', 0)

  local call = load_call(call_id)
  if not call then refuse('unknown call ' .. call_id) end
  local previous = call.state
  if previous == 'ended' or previous == 'abandoned' then
    return { 'result', 'noop', 'call_id', call_id, 'state', previous, 'previous', previous,
      'outcome', call.outcome, 'abandon_stage', call.abandon_stage, 'desk_id', '',
      'desk_state', '' }
  end
  local known = { ivr = true, queued = true, ringing = true, on_call = true, fallback = true }
  if not known[previous] then
    refuse('call ' .. call_id .. ' has unknown state ' .. tostring(previous))
  end

  local now = int_str(NOW)
  local desk_id, desk_state = '', ''
  -- The call's desk, only when that desk really is busy with this call.
  local function own_desk(expected_state)
    if call.desk == '' then return nil end
    local desk = load_desk(call.desk)
    if desk and desk.state == expected_state and desk.call_id == call_id then return desk end
    return nil
  end

  local result, state, outcome, stage
  if previous == 'on_call' or previous == 'fallback' then
    result, state, stage = 'ended', 'ended', ''
    outcome = previous == 'on_call' and 'answered' or 'fallback'
    local desk = previous == 'on_call' and own_desk('on_call')
    if desk then
      desk_id, desk_state = call.desk, 'wrap_up'
      local until_ms = int_str(NOW + wrap_up)
      redis.call('HSET', desk_key(desk_id), 'state', 'wrap_up', 'since_ms', now,
        'wrap_up_until_ms', until_ms)
      redis.call('ZADD', K_WRAPUPS, until_ms, desk_id)
    end
    redis.call('HSET', call_key(call_id), 'state', state, 'ended_ms', now, 'outcome', outcome)
    -- How long a desk of this queue is busy per call (talk + wrap-up): the last 50 feed the
    -- expected wait announced to callers (queueing/wait_estimate.py).
    local answered_ms = tonumber(call.answered_ms)
    if outcome == 'answered' and answered_ms and call.queue ~= '' then
      redis.call('LPUSH', handle_times_key(call.queue), int_str(NOW - answered_ms + wrap_up))
      redis.call('LTRIM', handle_times_key(call.queue), 0, 49)
    end
  else
    result, state, outcome, stage = 'abandoned', 'abandoned', 'abandoned', previous
    if previous == 'queued' then
      redis.call('ZREM', queue_key(call.queue), call_id)
    elseif previous == 'ringing' then
      redis.call('ZREM', K_OFFERS, call_id)
      local desk = own_desk('ringing')
      if desk then
        desk_id, desk_state = call.desk, 'ready'
        make_desk_ready(desk_id, desk.agency)
      end
    end
    local callback_queue = call.queue ~= '' and call.queue or GENERAL
    redis.call('HSET', call_key(call_id), 'state', state, 'ended_ms', now, 'outcome', outcome,
      'abandon_stage', stage, 'wait_ms', int_str(NOW - tonumber(call.arrived_ms)))
    redis.call('ZADD', callbacks_key(callback_queue), now, call_id)
  end
  redis.call('SREM', K_ACTIVE, call_id)
  end_hold(call_id, call)  -- hung up on hold music: the hold ends with the call, and its time counts

  emit('call_' .. result, 'call_id', call_id, 'state', state, 'previous', previous,
    'outcome', outcome, 'abandon_stage', stage, 'desk_id', desk_id, 'desk_state', desk_state)
  if desk_state == 'ready' then wake('desk_ready') end
  return { 'result', result, 'call_id', call_id, 'state', state, 'previous', previous,
    'outcome', outcome, 'abandon_stage', stage, 'desk_id', desk_id, 'desk_state', desk_state }
end)
