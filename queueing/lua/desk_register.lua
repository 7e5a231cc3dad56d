-- desk_register: creates a desk (state offline) or confirms an existing one. An existing
-- desk keeps its state; its agency can only change while it is offline, so a desk is
-- never in one agency's ready set while belonging to another.
-- ARGV[3..] desk_id, agency, cross_trained (comma-separated agency ids, may be empty)
-- Every desk is also listed in desks:of:<agency>. The indexes claim_next reads follow the
-- record here too: desks:logged_in:<agency> (is any desk of the agency logged in? else its
-- callers overflow at once) and desks:ready_for:<queue> (a ready desk, per queue it is
-- cross-trained for). Registering again (every bridge start) restores an entry that is missing.
-- Reply: desk_id, agency, state, previous (state before; empty for a new desk),
--        changed ("1" when something was written)
return run(function()
  local desk_id = arg_id(3, 'desk_id')
  local agency = arg_id(4, 'agency')
  if agency == GENERAL then refuse('"' .. GENERAL .. '" is a queue, not an agency') end
  local cross_trained = arg_text(5)
  for other in string.gmatch(cross_trained, '[^,]+') do
    check_id(other, 'cross-trained agency')
    if other == agency then refuse('desk ' .. desk_id .. ' cannot be cross-trained for its own agency ' .. agency) end
  end

  -- cross-training changed or confirmed: the desk's entries follow its record
  local function reindex(state, old_cross)
    mark_logged_in(desk_id, agency, state ~= 'offline')
    for queue in cross_queues(old_cross) do redis.call('ZREM', ready_for_key(queue), desk_id) end
    local since = state == 'ready' and redis.call('ZSCORE', ready_key(agency), desk_id)
    if since then
      for queue in cross_queues(cross_trained) do redis.call('ZADD', ready_for_key(queue), since, desk_id) end
    end
  end

  local desk = load_desk(desk_id)
  if desk == nil then
    redis.call('HSET', desk_key(desk_id), 'desk_id', desk_id, 'agency', agency,
      'state', 'offline', 'call_id', '', 'since_ms', int_str(NOW), 'reason', '',
      'misses', '0', 'wrap_up_until_ms', '', 'cross_trained', cross_trained)
    redis.call('SADD', K_DESKS, desk_id)
    redis.call('SADD', desks_of_key(agency), desk_id)
    emit('desk_registered', 'desk_id', desk_id, 'agency', agency, 'state', 'offline')
    return { 'desk_id', desk_id, 'agency', agency, 'state', 'offline', 'previous', '',
      'changed', '1' }
  end

  if desk.agency == agency then
    redis.call('SADD', desks_of_key(agency), desk_id)
    reindex(desk.state, desk.cross_trained)
    if (desk.cross_trained or '') ~= cross_trained then
      redis.call('HSET', desk_key(desk_id), 'cross_trained', cross_trained)
      emit('desk_registered', 'desk_id', desk_id, 'agency', agency, 'cross_trained', cross_trained,
        'state', desk.state)
      return { 'desk_id', desk_id, 'agency', agency, 'state', desk.state, 'previous', desk.state,
        'changed', '1' }
    end
    return { 'desk_id', desk_id, 'agency', agency, 'state', desk.state, 'previous', desk.state,
      'changed', '0' }
  end
  if desk.state ~= 'offline' then
    refuse('desk ' .. desk_id .. ' is ' .. desk.state .. '; set it offline before moving it from '
      .. desk.agency .. ' to ' .. agency)
  end
  redis.call('HSET', desk_key(desk_id), 'agency', agency, 'cross_trained', cross_trained)
  redis.call('SREM', desks_of_key(desk.agency), desk_id)
  redis.call('SADD', desks_of_key(agency), desk_id)
  mark_logged_in(desk_id, desk.agency, false)
  reindex(desk.state, desk.cross_trained)
  emit('desk_registered', 'desk_id', desk_id, 'agency', agency, 'previous_agency', desk.agency,
    'state', desk.state)
  return { 'desk_id', desk_id, 'agency', agency, 'state', desk.state, 'previous', desk.state,
    'changed', '1' }
end)
