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
  local transfer = load_hash(PREFIX .. 'transfer:' .. call_id)
  local under_way = { moving = true, ringback = true, answered = true, conferenced = true }
  if transfer and under_way[transfer.transfer_state] then
    refuse('a transfer of call ' .. call_id .. ' is under way (' .. transfer.transfer_state .. ')')
  end
  local id = redis.call('XADD', PREFIX .. 'call_commands', 'MAXLEN', '~', '10000', '*', 'action', action,
    'call_id', call_id, 'channel', call.channel, 'desk_id', desk_id, 'ms', int_str(NOW))
  emit('call_action', 'call_id', call_id, 'queue', call.queue, 'desk_id', desk_id, 'action', action, 'by', by)
  return { 'call_id', call_id, 'action', action, 'command', id }
end)
