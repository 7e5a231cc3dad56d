-- desk_wrap_up: a call-taker ends its desk's wrap-up now, or extends it once.
--   end     wrap_up -> ready (the back of the idle order, like wrapups_release)
--   extend  wrap-up ends extend_ms later; once per wrap-up (wrap_up_extended holds the
--           since_ms of the wrap-up already extended), a second one is refused
-- Refused when the desk is not in wrap-up. ARGV[3..] desk_id, action, extend_ms
-- Reply: desk_id, agency, state, previous, wrap_up_until_ms
return run(function()
  local desk_id = arg_id(3, 'desk_id')
  local action = ARGV[4] or ''
  if action ~= 'end' and action ~= 'extend' then
    refuse('unknown wrap-up action ' .. string.format('%q', action) .. '; allowed: end, extend')
  end
  local extend_ms = arg_int(5, 'extend_ms', 1000, 3600000)
  local desk = load_desk(desk_id)
  if not desk then refuse('unknown desk ' .. desk_id) end
  if desk.state ~= 'wrap_up' then
    refuse('desk ' .. desk_id .. ' is ' .. desk.state .. ', not in wrap-up')
  end
  if action == 'end' then
    redis.call('ZREM', K_WRAPUPS, desk_id)
    make_desk_ready(desk_id, desk.agency)
    emit('desk_state', 'desk_id', desk_id, 'agency', desk.agency, 'state', 'ready',
      'previous', 'wrap_up', 'reason', 'wrap-up ended by the call-taker')
    wake('desk_ready')
    return { 'desk_id', desk_id, 'agency', desk.agency, 'state', 'ready', 'previous', 'wrap_up',
      'wrap_up_until_ms', '' }
  end
  if desk.wrap_up_extended ~= nil and desk.wrap_up_extended == desk.since_ms then
    refuse('the wrap-up of desk ' .. desk_id .. ' was already extended once; end it or let it run out')
  end
  local until_ms = int_str(math.max(tonumber(desk.wrap_up_until_ms) or NOW, NOW) + extend_ms)
  redis.call('HSET', desk_key(desk_id), 'wrap_up_until_ms', until_ms, 'wrap_up_extended', desk.since_ms)
  redis.call('ZADD', K_WRAPUPS, until_ms, desk_id)
  emit('desk_state', 'desk_id', desk_id, 'agency', desk.agency, 'state', 'wrap_up',
    'previous', 'wrap_up', 'reason', 'wrap-up extended', 'wrap_up_until_ms', until_ms)
  return { 'desk_id', desk_id, 'agency', desk.agency, 'state', 'wrap_up', 'previous', 'wrap_up',
    'wrap_up_until_ms', until_ms }
end)
