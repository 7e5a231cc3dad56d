-- transfer_step: applies one step queueing/transfers.py decided, if the transfer is still in
-- the state the step was decided in (a late or repeated event changes nothing: refused).
--   requeue_queue: the caller waits at the HEAD of that queue: priority 0 and its original
--                  arrival time (score = arrival ms), so nobody who came later is ahead; the
--                  record says transferred_from, and visible_to lets that agency open the call.
--                  A caller who hung up meanwhile is not requeued (the transfer ends).
--   wrap_up:       the initiating desk is done with the call: wrap-up for wrap_up_ms.
-- A consultative transfer's target desk and hold follow its state: answered, the target desk is
-- on_call (with this call, still the initiator's); conferenced, the caller is off hold, the call
-- still the initiator's and conference_desk the target desk (on_call); completed (the initiator
-- left the conference too), the call is the target desk's
-- (desk, held 0) and the target desk on_call; cancelled, the caller talks to the initiator again
-- (held 0; requeued too); cancelled, requeued or ended, a target desk still ringing or consulting for this call
-- is ready again. consult_desk (set by transfer_start) names the target until completed, cancelled,
-- requeued or ended.
-- ARGV[3..] call_id, expected transfer_state, new transfer_state, requeue_queue ('' for none),
--           wrap_up (1/0), wrap_up_ms, reason
-- Reply: the transfer record's fields after the step
return run(function()
  local call_id = arg_id(3, 'call_id')
  local expected = ARGV[4] or ''
  local next_state = ARGV[5] or ''
  local requeue = arg_text(6)
  local wrap_up = ARGV[7] == '1'
  local wrap_up_ms = arg_int(8, 'wrap_up_ms', 0)
  local reason = arg_text(9)
  local transfer_states = { moving = true, ringback = true, answered = true, conferenced = true, completed = true,
    cancelled = true, requeued = true, ended = true }
  if not transfer_states[next_state] then refuse('unknown transfer state ' .. tostring(next_state)) end
  if requeue ~= '' then check_id(requeue, 'requeue_queue') end

  local tkey = transfer_key(call_id)
  local transfer = load_hash(tkey)
  if not transfer then refuse('no transfer of call ' .. call_id) end
  if transfer.transfer_state ~= expected then
    refuse('the transfer of call ' .. call_id .. ' is ' .. transfer.transfer_state .. ', not ' .. expected)
  end
  local call = load_call(call_id)
  if not call then refuse('unknown call ' .. call_id) end

  local now = int_str(NOW)
  local gone = call.state == 'ended' or call.state == 'abandoned'
  if gone then next_state = 'ended' end
  local queue = call.queue
  local target = transfer.target_desk or ''
  if transfer.kind == 'consult' and target ~= '' then
    local t = load_desk(target)
    local ours = t and (t.state == 'ringing' or t.state == 'on_call') and t.call_id == call_id
    local function unhold() end_hold(call_id, call) end
    if next_state == 'answered' then
      if ours and t.state == 'ringing' then
        redis.call('HSET', desk_key(target), 'state', 'on_call', 'since_ms', now)
        emit('desk_state', 'desk_id', target, 'agency', t.agency, 'state', 'on_call', 'previous', 'ringing',
          'reason', 'consulted by ' .. transfer.from_desk)
      end
    elseif next_state == 'conferenced' then
      -- Caller, initiator and target in one room: off hold; the call is still the initiator's,
      -- conference_desk names the other desk in it; the target desk stays on_call with it.
      unhold()
      redis.call('HSET', call_key(call_id), 'conference_desk', target, 'conference_ms', now)
    elseif next_state == 'completed' then
      unhold()
      redis.call('HSET', call_key(call_id), 'desk', target, 'transferred_from', transfer.from_desk,
        'transferred_ms', now, 'conference_desk', '', 'consult_desk', '')
      local previous = t and t.state or 'offline'
      unindex_ready_desk(target, t and t.agency or transfer.target_agency, t and t.cross_trained or '')
      if t then mark_logged_in(target, t.agency, true) end
      redis.call('HSET', desk_key(target), 'state', 'on_call', 'call_id', call_id, 'since_ms', now)
      if previous ~= 'on_call' then
        emit('desk_state', 'desk_id', target, 'agency', t and t.agency or transfer.target_agency, 'state', 'on_call',
          'previous', previous, 'reason', 'transferred from ' .. transfer.from_desk)
      end
    else
      if (next_state == 'cancelled' or next_state == 'requeued') and not gone then unhold() end
      redis.call('HSET', call_key(call_id), 'conference_desk', '', 'consult_desk', '')
      if ours then
        make_desk_ready(target, t.agency)
        -- Why, in the desk's own trail too (its phone unreachable: CHANUNAVAIL; a refusal: BUSY).
        emit('desk_state', 'desk_id', target, 'agency', t.agency, 'state', 'ready', 'previous', t.state,
          'reason', 'consultation ' .. next_state .. (reason ~= '' and (': ' .. reason) or ''))
        wake('desk_ready')
      end
    end
  end
  if requeue ~= '' and not gone then
    queue = requeue
    local score = int_str(tonumber(call.arrived_ms))
    if call.state == 'queued' and call.queue ~= '' then redis.call('ZREM', queue_key(call.queue), call_id) end
    local visible = call.visible_to or ''
    if not string.find(',' .. visible .. ',', ',' .. requeue .. ',', 1, true) then
      visible = visible == '' and requeue or (visible .. ',' .. requeue)
    end
    redis.call('HSET', call_key(call_id), 'state', 'queued', 'queue', requeue, 'priority', '0',
      'priority_reason', 'transfer', 'queue_score', score, 'desk', '', 'transferred_from', transfer.from_desk,
      'transferred_ms', now, 'visible_to', visible)
    redis.call('ZADD', queue_key(requeue), score, call_id)
    emit('call_queued', 'call_id', call_id, 'queue', requeue, 'priority', '0', 'choice', call.choice or '',
      'state', 'queued', 'policy_applied', '')
  end
  local desk_id = transfer.from_desk
  local desk = load_desk(desk_id)
  if wrap_up and desk and desk.state == 'on_call' and desk.call_id == call_id then
    local until_ms = int_str(NOW + wrap_up_ms)
    redis.call('HSET', desk_key(desk_id), 'state', 'wrap_up', 'since_ms', now, 'wrap_up_until_ms', until_ms)
    redis.call('ZADD', K_WRAPUPS, until_ms, desk_id)
    emit('desk_state', 'desk_id', desk_id, 'agency', desk.agency, 'state', 'wrap_up', 'previous', 'on_call',
      'reason', 'transferred to ' .. transfer.target_agency)
  end
  redis.call('HSET', tkey, 'transfer_state', next_state, 'updated_ms', now, 'reason', reason)
  emit('transfer', 'call_id', call_id, 'queue', queue, 'desk_id', desk_id, 'from_agency', transfer.from_agency,
    'to_agency', transfer.target_agency, 'kind', transfer.kind, 'transfer_state', next_state, 'reason', reason)
  if requeue ~= '' and not gone then wake('call_queued') end
  local flat = redis.call('HGETALL', tkey)
  return flat
end)
