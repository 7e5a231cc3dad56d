-- transfer_start: the desk on a call asks to transfer its caller to another agency
-- (queueing/transfers.py decides; this script makes the first step in Redis):
--   blind: transfer_state moving, and a move_to_wait command for the bridges; the caller
--          stays with the desk until the bridge's Redirect lands (transfer_step).
--   consult: transfer_state ringback; the agency's desk ready longest is the target_desk, made
--          ringing with this call (no caller is offered to it meanwhile); the call held (held=1,
--          held_ms) while it stays on a call at the desk, consult_desk the target; a consult command for the bridges (the
--          caller to hold music, the desk's leg dials the target desk). Refused when no desk of
--          the agency is ready (blind waits for one; a consultation needs one now).
-- Refused (nothing written): the call is not on a call at that desk, it is on hold, a transfer
-- of it is already under way, the agency is the desk's own, or no desk of the agency is logged in
-- (the caller would wait for nobody: the call-taker keeps the caller and chooses again).
-- ARGV[3..] call_id, desk_id (the desk asking), agency (the target), kind (blind or consult),
--           label (what the target desk's phone shows)
-- Reply: the transfer record's fields
return run(function()
  local call_id = arg_id(3, 'call_id')
  local desk_id = arg_id(4, 'desk_id')
  local agency = arg_id(5, 'agency')
  local kind = ARGV[6]
  local label = arg_text(7)
  if kind ~= 'blind' and kind ~= 'consult' then
    refuse('transfer kind must be blind or consult, got ' .. tostring(kind))
  end
  if agency == GENERAL then refuse('"' .. GENERAL .. '" is a queue, not an agency to transfer to') end

  local call = load_call(call_id)
  if not call then refuse('unknown call ' .. call_id) end
  local tkey = transfer_key(call_id)
  local current = load_hash(tkey)
  if current and under_way[current.transfer_state] then
    refuse('a transfer is already under way: call ' .. call_id .. ' is being transferred to '
      .. current.target_agency .. ' (' .. current.transfer_state .. ')')
  end
  if call.state ~= 'on_call' or call.desk ~= desk_id then
    refuse('call ' .. call_id .. ' is ' .. call.state .. ', not on a call at desk ' .. desk_id)
  end
  if call.held == '1' then
    -- the bridge has the caller on hold music and the desk leg aside: resume first, then transfer
    refuse('call ' .. call_id .. ' is on hold: resume it, then transfer')
  end
  local desk = load_desk(desk_id)
  if not desk or desk.state ~= 'on_call' or desk.call_id ~= call_id then
    refuse('desk ' .. desk_id .. ' is not on call ' .. call_id)
  end
  if desk.agency == agency then
    refuse('desk ' .. desk_id .. ' is a ' .. agency .. ' desk already: transfer to another agency')
  end
  if not any_logged_in(agency) then
    refuse('no ' .. agency .. ' desk is logged in: the caller would wait for nobody; keep the caller '
      .. 'or transfer to another agency')
  end

  local now = int_str(NOW)
  local transfer_state, target, action = 'moving', '', 'move_to_wait'
  if kind == 'consult' then
    -- the agency's own desk ready longest (the ready set is by the time each got ready)
    for _, other in ipairs(redis.call('ZRANGE', ready_key(agency), 0, -1)) do
      local d = load_desk(other)
      if target == '' and d and d.agency == agency and d.state == 'ready' then target = other end
    end
    if target == '' then
      refuse('no ' .. agency .. ' desk is ready to take a consultation: transfer blind (the caller '
        .. 'waits at the head of its queue) or try again')
    end
    transfer_state, action = 'ringback', 'consult'
    unindex_ready_desk(target, agency, nil)
    redis.call('HSET', desk_key(target), 'state', 'ringing', 'call_id', call_id, 'since_ms', now)
    emit('desk_state', 'desk_id', target, 'agency', agency, 'state', 'ringing', 'previous', 'ready',
      'reason', 'consulted by ' .. desk_id)
    -- consult_desk: the call names the desk it is ringing or talking to, so the drift check
    -- counts that desk busy with this call until the consultation ends
    redis.call('HSET', call_key(call_id), 'held', '1', 'held_ms', now, 'consult_desk', target)
  end
  local record = { 'call_id', call_id, 'transfer_state', transfer_state, 'kind', kind, 'from_desk', desk_id,
    'from_agency', desk.agency, 'target_agency', agency, 'own_queue', call.queue, 'target_desk', target,
    'started_ms', now, 'updated_ms', now, 'reason', '' }
  redis.call('DEL', tkey)
  redis.call('HSET', tkey, unpack(record))
  if kind == 'consult' then
    add_call_command(action, call_id, call.channel, desk_id, 'label', label, 'target_desk', target)
  else
    add_call_command(action, call_id, call.channel, desk_id, 'label', label)
  end
  emit('transfer', 'call_id', call_id, 'queue', call.queue, 'desk_id', desk_id, 'from_agency', desk.agency,
    'to_agency', agency, 'kind', kind, 'transfer_state', transfer_state)
  return record
end)
