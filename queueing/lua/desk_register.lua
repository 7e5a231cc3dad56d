-- desk_register: creates a desk (state offline) or confirms an existing one. An existing
-- desk keeps its state; its agency can only change while it is offline, so a desk is
-- never in one agency's ready set while belonging to another.
-- ARGV[3..] desk_id, agency
-- Reply: desk_id, agency, state, previous (state before; empty for a new desk),
--        changed ("1" when something was written)
return run(function()
  local desk_id = arg_id(3, 'desk_id')
  local agency = arg_id(4, 'agency')
  if agency == GENERAL then refuse('"general" is a queue, not an agency') end

  local desk = load_desk(desk_id)
  if desk == nil then
    redis.call('HSET', desk_key(desk_id), 'desk_id', desk_id, 'agency', agency,
      'state', 'offline', 'call_id', '', 'since_ms', int_str(NOW), 'reason', '',
      'misses', '0', 'wrap_up_until_ms', '')
    redis.call('SADD', K_DESKS, desk_id)
    emit('desk_registered', 'desk_id', desk_id, 'agency', agency, 'state', 'offline')
    return { 'desk_id', desk_id, 'agency', agency, 'state', 'offline', 'previous', '',
      'changed', '1' }
  end

  if desk.agency == agency then
    return { 'desk_id', desk_id, 'agency', agency, 'state', desk.state, 'previous', desk.state,
      'changed', '0' }
  end
  if desk.state ~= 'offline' then
    refuse('desk ' .. desk_id .. ' is ' .. desk.state .. '; set it offline before moving it from '
      .. desk.agency .. ' to ' .. agency)
  end
  redis.call('HSET', desk_key(desk_id), 'agency', agency)
  emit('desk_registered', 'desk_id', desk_id, 'agency', agency, 'previous_agency', desk.agency,
    'state', desk.state)
  return { 'desk_id', desk_id, 'agency', agency, 'state', desk.state, 'previous', desk.state,
    'changed', '1' }
end)
