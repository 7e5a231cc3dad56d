-- spy_start: a supervisor listens to (whisper to, barge in on) the call a desk is on, from the
-- supervisor's own desk phone (telephony/call_control.py: AMI Originate to it, ChanSpy on the
-- desk's exact channel). One spy session per desk call; refused unless the desk is on a call
-- (not held, no transfer under way) and the supervisor's desk is free: not ringing, not on a
-- call, not ready (it would be offered callers while listening) and not listening elsewhere.
-- A session left behind by an earlier call of the desk (its end never reported) is replaced.
-- ARGV[3..] desk_id, supervisor_desk, mode (listen, whisper, barge), by, tell_call_taker (1/0)
-- Reply: the session (spy:{desk_id}) and command (the stream id)
return run(function()
  local desk_id = arg_id(3, 'desk_id')
  local supervisor = arg_id(4, 'supervisor_desk')
  local mode = ARGV[5]
  local by = arg_text(6)
  local tell = ARGV[7] == '1' and '1' or '0'
  if not SPY_MODES[mode] then refuse('unknown spy mode ' .. tostring(mode)) end
  if supervisor == desk_id then refuse('desk ' .. desk_id .. ' cannot listen to itself') end
  local desk = load_desk(desk_id)
  if not desk then refuse('unknown desk ' .. desk_id) end
  if desk.state ~= 'on_call' then refuse('desk ' .. desk_id .. ' is ' .. desk.state .. ', not on a call') end
  local call_id = desk.call_id
  local call = load_call(call_id)
  if not call or call.state ~= 'on_call' or call.desk ~= desk_id then
    refuse('desk ' .. desk_id .. ' is not on a call now')
  end
  if call.held == '1' then refuse('the caller of desk ' .. desk_id .. ' is on hold') end
  refuse_while_transferring(call_id)
  local sup = load_desk(supervisor)
  if not sup then refuse('unknown desk ' .. supervisor) end
  if sup.state == 'ringing' or sup.state == 'on_call' then
    refuse('desk ' .. supervisor .. ' is ' .. sup.state .. ': busy')
  end
  if sup.state == 'ready' then
    refuse('desk ' .. supervisor .. ' is ready and would be offered callers while listening: pause it first')
  end
  local current = load_hash(spy_key(desk_id))
  if current and current.call_id == call_id then
    refuse('desk ' .. current.supervisor_desk .. ' is already listening to desk ' .. desk_id)
  end
  local elsewhere = redis.call('GET', spy_by_key(supervisor))
  if elsewhere then
    local other = load_hash(spy_key(elsewhere))
    if other and other.supervisor_desk == supervisor then
      refuse('desk ' .. supervisor .. ' is already listening to desk ' .. elsewhere)
    end
  end
  if current then end_spy(desk_id, current, 'replaced: its call ended') end

  local now = int_str(NOW)
  -- Asterisk's uniqueid of the supervisor's leg (Originate ChannelId): the bridge finds, switches
  -- and hangs up that leg by it.
  local spy_id = 'spy-' .. desk_id .. '-' .. now
  redis.call('HSET', spy_key(desk_id), 'spy_id', spy_id, 'desk_id', desk_id, 'call_id', call_id,
    'supervisor_desk', supervisor, 'mode', mode, 'by', by, 'started_ms', now, 'answered_ms', '',
    'tell_call_taker', tell)
  redis.call('SET', spy_by_key(supervisor), desk_id)
  redis.call('SADD', spies_key(), desk_id)
  local id = add_call_command('spy_start', call_id, call.channel, desk_id, 'supervisor_desk', supervisor,
    'mode', mode, 'spy_id', spy_id)
  emit('spy_started', 'desk_id', desk_id, 'call_id', call_id, 'supervisor_desk', supervisor, 'mode', mode,
    'by', by, 'spy_id', spy_id, 'tell_call_taker', tell)
  return { 'spy_id', spy_id, 'desk_id', desk_id, 'call_id', call_id, 'supervisor_desk', supervisor,
    'mode', mode, 'started_ms', now, 'answered_ms', '', 'tell_call_taker', tell, 'command', id }
end)
