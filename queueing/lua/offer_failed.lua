-- offer_failed: the desk did not take the call. The caller goes back to its queue with its
-- original score, so it is at the head again; the desk counts a miss when the failure was
-- the desk's (it did not pick up), and is paused "missed calls" after missed_limit misses
-- in a row, otherwise it is ready again at the back of the idle order.
-- ARGV[3..] call_id, desk_id, status (Asterisk DIALSTATUS or a bridge status), missed_limit
-- Reply: result ("requeued", or "stale" when the call is no longer ringing at that desk,
--        e.g. the caller hung up first: nothing is changed), call_id, desk_id, then for
--        "requeued": queue, position, desk_state, misses, missed ("1" when counted);
--        for "stale": note.
return run(function()
  local call_id = arg_id(3, 'call_id')
  local desk_id = arg_id(4, 'desk_id')
  local status = string.upper(ARGV[5] or '')
  if status == '' then refuse('status is required') end
  local missed_limit = arg_int(6, 'missed_limit', 1)

  local call = load_call(call_id)
  if not call then refuse('unknown call ' .. call_id) end
  local desk = load_desk(desk_id)
  if not desk then refuse('unknown desk ' .. desk_id) end
  if call.state ~= 'ringing' or call.desk ~= desk_id then
    return { 'result', 'stale', 'call_id', call_id, 'desk_id', desk_id,
      'note', 'call ' .. call_id .. ' is ' .. call.state .. ', not ringing at desk ' .. desk_id
        .. '; nothing changed' }
  end

  -- Statuses that mean the desk did not pick up. Anything else (the bridge could not move
  -- the caller, Dial was cancelled, ...) is not the call-taker's doing.
  local DESK_MISSES = { NOANSWER = true, BUSY = true, CHANUNAVAIL = true, CONGESTION = true,
    TIMEOUT = true }
  -- DESK_<device state>: the dialplan did not ring the desk. Unregistered or invalid: the
  -- desk's fault, a miss. Busy with a call hotline did not give it (e.g. one from
  -- Asterisk's fallback queue): not a miss; the desk is paused "busy outside hotline" until
  -- the bridge sees its phone idle again.
  local BUSY_OUTSIDE = { DESK_INUSE = true, DESK_BUSY = true, DESK_RINGING = true,
    DESK_RINGINUSE = true, DESK_ONHOLD = true }
  local busy_outside = BUSY_OUTSIDE[status] == true
  local missed = DESK_MISSES[status] == true or (string.sub(status, 1, 5) == 'DESK_' and not busy_outside)

  redis.call('ZREM', K_OFFERS, call_id)
  redis.call('HSET', call_key(call_id), 'state', 'queued', 'desk', '', 'last_ring_status', status)
  redis.call('ZADD', queue_key(call.queue), call.queue_score, call_id)
  local position = redis.call('ZRANK', queue_key(call.queue), call_id) + 1

  -- The caller is requeued in any case; the desk is only touched if it is really ringing
  -- with this call (its record may have been changed by hand).
  local misses = tonumber(desk.misses) or 0
  local desk_state = desk.state
  if desk.state == 'ringing' and desk.call_id == call_id then
    if missed then
      misses = misses + 1
      redis.call('HSET', desk_key(desk_id), 'misses', int_str(misses))
    end
    if busy_outside or (missed and misses >= missed_limit) then
      desk_state = 'paused'
      redis.call('HSET', desk_key(desk_id), 'state', 'paused', 'call_id', '',
        'since_ms', int_str(NOW), 'reason', busy_outside and 'busy outside hotline' or 'missed calls')
    else
      desk_state = 'ready'
      make_desk_ready(desk_id, desk.agency)
    end
  else
    missed = false
  end

  emit('offer_failed', 'call_id', call_id, 'desk_id', desk_id, 'status', status,
    'missed', missed and '1' or '0', 'misses', int_str(misses), 'state', 'queued',
    'desk_state', desk_state)
  wake('call_requeued')
  return { 'result', 'requeued', 'call_id', call_id, 'desk_id', desk_id, 'queue', call.queue,
    'position', int_str(position), 'desk_state', desk_state, 'misses', int_str(misses),
    'missed', missed and '1' or '0' }
end)
