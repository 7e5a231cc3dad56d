-- call_command: the desk on a call asks the bridges to act on it over AMI (hang up the
-- caller). Refused unless the call is on a call at that desk with no transfer under way.
-- The caller's own hang-up handler then ends the call as always (call_hangup), so the record
-- and the audit trail are the same as for any answered call.
-- ARGV[3..] call_id, desk_id, action (hangup), by (who asked)
-- Reply: call_id, action, command (the stream id)
return run(function()
  local call_id = arg_id(3, 'call_id')
  local desk_id = arg_id(4, 'desk_id')
  local action = ARGV[5]
  local by = arg_text(6)
  if action ~= 'hangup' then refuse('unknown call action ' .. tostring(action)) end
  local call = load_call(call_id)
  if not call then refuse('unknown call ' .. call_id) end
  if call.state ~= 'on_call' or call.desk ~= desk_id then
    refuse('call ' .. call_id .. ' is ' .. call.state .. ', not on a call at desk ' .. desk_id)
  end
  refuse_while_transferring(call_id)
  local id = add_call_command(action, call_id, call.channel, desk_id)
  emit('call_action', 'call_id', call_id, 'queue', call.queue, 'desk_id', desk_id, 'action', action, 'by', by)
  return { 'call_id', call_id, 'action', action, 'command', id }
end)
