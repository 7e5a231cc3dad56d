-- wrapups_release: wrap-up -> ready for every desk whose wrap-up ended by now.
-- ARGV[3..] none
-- Reply: the released desk ids (oldest wrap-up end first)
return run(function()
  local due = redis.call('ZRANGEBYSCORE', K_WRAPUPS, '-inf', int_str(NOW))
  local released = {}
  for _, desk_id in ipairs(due) do
    redis.call('ZREM', K_WRAPUPS, desk_id)
    -- A desk set ready (or offline) by hand during wrap-up already left the set; an entry
    -- still here for a desk in another state is stale and only removed.
    local desk = load_desk(desk_id)
    if desk and desk.state == 'wrap_up' then
      make_desk_ready(desk_id, desk.agency)
      emit('desk_state', 'desk_id', desk_id, 'agency', desk.agency, 'state', 'ready',
        'previous', 'wrap_up', 'reason', 'wrap-up ended')
      released[#released + 1] = desk_id
    end
  end
  if #released > 0 then wake('desk_ready') end
  return released
end)
