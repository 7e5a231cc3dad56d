-- call_hold: putting a caller on hold (music) and back with its desk, and what the bridge
-- learns while it is held (telephony/call_control.py). The call stays on_call at its desk
-- throughout; `held` (1/0) and `held_ms` (when the current hold began) say where the caller is,
-- `held_total_ms` how long it was held before.
--   hold          the desk asks: refused unless on a call at that desk, not held, no transfer
--                 under way; held=1, audit call_held, a `hold` command for the bridges
--   resume        the desk asks: refused unless held at that desk; held=0, audit call_resumed,
--                 a `resume` command for the bridges
--   hold_failed   the bridge could not move the channels: the caller is still with its desk (held=0)
--   resume_failed the bridge could not bring the two together again: the caller stays on hold
--                 music (held=1) and the desk's console says so
--   desk_left     the desk's leg ended while the caller was held (or a resume found it gone):
--                 the caller waits at the HEAD of its queue (priority 0, its arrival time), the
--                 desk wraps up. Nothing changes unless the call is held on a call at that desk
--                 (a desk hanging up after a resume ends the call as always: call_hangup);
--                 by 'resume': a resume found the desk's leg gone (held is 0 already then)
-- ARGV[3..] call_id, desk_id, action, by (who asked), reason, wrap_up_ms (desk_left)
-- Reply: result (held, resumed, hold_failed, resume_failed, requeued, noop), call_id, held,
--        command (the stream id, for hold and resume), reason
return run(function()
  local call_id = arg_id(3, 'call_id')
  local desk_id = arg_id(4, 'desk_id')
  local action = ARGV[5]
  local by = arg_text(6)
  local reason = arg_text(7)
  local wrap_up = arg_int(8, 'wrap_up_ms', 0)
  local actions = { hold = true, resume = true, hold_failed = true, resume_failed = true, desk_left = true }
  if not actions[action] then refuse('unknown hold action ' .. tostring(action)) end
  local call = load_call(call_id)
  if not call then refuse('unknown call ' .. call_id) end
  local key = call_key(call_id)
  local now = int_str(NOW)
  local held = call.held == '1'
  local at_desk = call.state == 'on_call' and call.desk == desk_id

  local function noop(why)
    return { 'result', 'noop', 'call_id', call_id, 'held', held and '1' or '0', 'command', '', 'reason', why }
  end

  if action == 'hold' or action == 'resume' then
    if not at_desk then
      refuse('call ' .. call_id .. ' is ' .. call.state .. ', not on a call at desk ' .. desk_id)
    end
    refuse_while_transferring(call_id)
    if action == 'hold' then
      if held then refuse('call ' .. call_id .. ' is already on hold') end
      redis.call('HSET', key, 'held', '1', 'held_ms', now)
      local id = add_call_command('hold', call_id, call.channel, desk_id)
      emit('call_held', 'call_id', call_id, 'queue', call.queue, 'desk_id', desk_id, 'by', by)
      return { 'result', 'held', 'call_id', call_id, 'held', '1', 'command', id, 'reason', '' }
    end
    if not held then refuse('call ' .. call_id .. ' is not on hold') end
    end_hold(call_id, call)
    local id = add_call_command('resume', call_id, call.channel, desk_id)
    emit('call_resumed', 'call_id', call_id, 'queue', call.queue, 'desk_id', desk_id, 'by', by)
    return { 'result', 'resumed', 'call_id', call_id, 'held', '0', 'command', id, 'reason', '' }
  end

  if not at_desk then return noop('call ' .. call_id .. ' is ' .. call.state .. ', not on a call at desk ' .. desk_id) end

  if action == 'hold_failed' then
    if not held then return noop('not on hold') end
    redis.call('HSET', key, 'held', '0')
    emit('call_hold_failed', 'call_id', call_id, 'queue', call.queue, 'desk_id', desk_id, 'reason', reason)
    return { 'result', 'hold_failed', 'call_id', call_id, 'held', '0', 'command', '', 'reason', reason }
  end

  if action == 'resume_failed' then
    if held then return noop('on hold already') end
    redis.call('HSET', key, 'held', '1', 'held_ms', now)
    emit('call_resume_failed', 'call_id', call_id, 'queue', call.queue, 'desk_id', desk_id, 'reason', reason)
    return { 'result', 'resume_failed', 'call_id', call_id, 'held', '1', 'command', '', 'reason', reason }
  end

  -- desk_left: only a held caller is requeued (a resumed call ends with its caller's hang-up).
  if not held and by ~= 'resume' then return noop('not on hold') end
  local queue = call.queue ~= '' and call.queue or GENERAL
  local score = int_str(tonumber(call.arrived_ms) or NOW)
  redis.call('HSET', key, 'state', 'queued', 'queue', queue, 'priority', '0', 'priority_reason', 'requeued',
    'queue_score', score, 'desk', '', 'held', '0', 'requeued_ms', now)
  redis.call('ZADD', queue_key(queue), score, call_id)
  local desk = load_desk(desk_id)
  if desk and desk.state == 'on_call' and desk.call_id == call_id then
    local until_ms = int_str(NOW + wrap_up)
    redis.call('HSET', desk_key(desk_id), 'state', 'wrap_up', 'since_ms', now, 'wrap_up_until_ms', until_ms)
    redis.call('ZADD', K_WRAPUPS, until_ms, desk_id)
    emit('desk_state', 'desk_id', desk_id, 'agency', desk.agency, 'state', 'wrap_up', 'previous', 'on_call',
      'reason', 'left a held caller')
  end
  emit('call_hold_desk_left', 'call_id', call_id, 'queue', queue, 'desk_id', desk_id, 'reason', reason)
  emit('call_queued', 'call_id', call_id, 'queue', queue, 'priority', '0', 'choice', call.choice or '',
    'state', 'queued', 'policy_applied', '')
  wake('call_queued')
  return { 'result', 'requeued', 'call_id', call_id, 'held', '0', 'command', '', 'reason', reason }
end)
