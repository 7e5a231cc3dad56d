-- transfer_consult: the initiating desk of a consultative transfer completes it (the caller to
-- the target desk, once it answered), makes it a three-way conference (once it answered) or cancels it (the caller back with the initiator, while the
-- target rings or talks). Nothing changes here but a command for the bridges (consult_complete,
-- consult_conference, consult_cancel): the bridge moves the channels, then transfer_step records the outcome.
-- Refused: no consultative transfer of the call by that desk, or not in a state for it.
-- ARGV[3..] call_id, desk_id (the initiating desk), action (complete, conference, cancel), by (who asked)
-- Reply: the transfer record's fields, and command (the stream id)
return run(function()
  local call_id = arg_id(3, 'call_id')
  local desk_id = arg_id(4, 'desk_id')
  local action = ARGV[5]
  local by = arg_text(6)
  if action ~= 'complete' and action ~= 'cancel' and action ~= 'conference' then refuse('unknown consult action ' .. tostring(action)) end
  local transfer = load_hash(transfer_key(call_id))
  if not transfer or transfer.kind ~= 'consult' then refuse('call ' .. call_id .. ' has no consultative transfer') end
  if transfer.from_desk ~= desk_id then
    refuse('the transfer of call ' .. call_id .. ' is desk ' .. transfer.from_desk .. "'s, not desk " .. desk_id .. "'s")
  end
  local transfer_state = transfer.transfer_state
  if (action == 'complete' or action == 'conference') and transfer_state ~= 'answered' then
    refuse('cannot ' .. action .. ' while the transfer is ' .. transfer_state .. ': the target desk has not answered')
  end
  if action == 'cancel' and transfer_state ~= 'ringback' and transfer_state ~= 'answered' then
    refuse('cannot cancel while the transfer is ' .. transfer_state)
  end
  local call = load_call(call_id)
  if not call then refuse('unknown call ' .. call_id) end
  local id = add_call_command('consult_' .. action, call_id, call.channel, desk_id,
    'target_desk', transfer.target_desk or '')
  emit('call_action', 'call_id', call_id, 'queue', call.queue, 'desk_id', desk_id, 'action', 'consult_' .. action,
    'by', by)
  local flat = redis.call('HGETALL', transfer_key(call_id))
  table.insert(flat, 'command')
  table.insert(flat, id)
  return flat
end)
