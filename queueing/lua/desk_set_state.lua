-- desk_set_state: what a call-taker (or a supervisor) does to a desk: log in (offline ->
-- paused "logged in"), ready, pause, log out (offline). The rules are the table in
-- queueing/desk_states.py; tests check this script against it. Refused while the desk is
-- ringing or on a call: those end through the call. From wrap-up any target is fine (ready
-- = the call-taker finished early). Ready from offline logs in too. Setting ready resets
-- the missed-call count: the call-taker is back.
-- ARGV[3..] desk_id, state (offline, ready, paused, or the command login), reason, set_by (who
--           forced it when not the desk's own call-taker, e.g. a supervisor; empty: the desk's own;
--           the event keeps the reason given as set_reason, a login's too)
-- Reply: desk_id, agency, state, previous, changed ("0" when the desk already was ready or
--        offline: a ready desk keeps its place in the idle order)
return run(function()
  local desk_id = arg_id(3, 'desk_id')
  local target = ARGV[4] or ''
  local reason = arg_text(5)
  local set_by = arg_text(6)
  local given = reason  -- the words as given (a login's reason becomes "logged in" below)

  local targets = { offline = true, ready = true, paused = true, login = true }
  local desk_states = { offline = true, ready = true, ringing = true, on_call = true,
    wrap_up = true, paused = true }
  if not targets[target] then
    if desk_states[target] then
      refuse('desk state ' .. target .. ' cannot be set by hand; allowed: offline, ready, paused, login')
    end
    refuse('unknown desk state ' .. string.format('%q', target)
      .. '; allowed: offline, ready, paused, login')
  end
  local desk = load_desk(desk_id)
  if not desk then refuse('unknown desk ' .. desk_id) end
  local previous = desk.state
  if previous == 'ringing' or previous == 'on_call' then
    refuse('desk ' .. desk_id .. ' is ' .. previous .. '; cannot set ' .. target)
  end
  if target == 'login' then
    if previous ~= 'offline' then
      refuse('desk ' .. desk_id .. ' is already logged in (' .. previous .. ')')
    end
    target, reason = 'paused', 'logged in'
  elseif target == 'paused' and previous == 'offline' then
    refuse('desk ' .. desk_id .. ' is not logged in: log in first')
  end

  if previous == target and target ~= 'paused' then
    return { 'desk_id', desk_id, 'agency', desk.agency, 'state', previous, 'previous', previous,
      'changed', '0' }
  end

  if previous == 'wrap_up' then redis.call('ZREM', K_WRAPUPS, desk_id) end
  if target == 'ready' then
    make_desk_ready(desk_id, desk.agency)
    redis.call('HSET', desk_key(desk_id), 'misses', '0', 'reason', reason, 'state_set_by', set_by)
  else
    unindex_ready_desk(desk_id, desk.agency, desk.cross_trained)
    mark_logged_in(desk_id, desk.agency, target ~= 'offline')
    redis.call('HSET', desk_key(desk_id), 'state', target, 'call_id', '', 'reason', reason,
      'wrap_up_until_ms', '', 'since_ms', int_str(NOW), 'state_set_by', set_by)
  end
  emit('desk_state', 'desk_id', desk_id, 'agency', desk.agency, 'state', target,
    'previous', previous, 'reason', reason, 'set_by', set_by, 'set_reason', given)
  if target == 'ready' then wake('desk_ready') end
  return { 'desk_id', desk_id, 'agency', desk.agency, 'state', target, 'previous', previous,
    'changed', '1' }
end)
