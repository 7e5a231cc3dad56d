-- desk_release: a desk left ringing or on a call whose call is over or elsewhere (an event
-- lost for good, a record changed by hand) is ready again. Refused while its call really is
-- ringing or talking at this desk: that ends through the call.
-- ARGV[3..] desk_id
-- Reply: desk_id, agency, state, previous, changed
return run(function()
  local desk_id = arg_id(3, 'desk_id')
  local desk = load_desk(desk_id)
  if not desk then refuse('unknown desk ' .. desk_id) end
  local previous = desk.state
  if previous ~= 'ringing' and previous ~= 'on_call' then
    return { 'desk_id', desk_id, 'agency', desk.agency, 'state', previous, 'previous', previous,
      'changed', '0' }
  end
  local call = (desk.call_id ~= nil and desk.call_id ~= '') and load_call(desk.call_id) or nil
  if call and call.desk == desk_id and (call.state == 'ringing' or call.state == 'on_call') then
    refuse('desk ' .. desk_id .. ' is really ' .. previous .. ' with call ' .. desk.call_id)
  end
  make_desk_ready(desk_id, desk.agency)
  emit('desk_released', 'desk_id', desk_id, 'agency', desk.agency, 'state', 'ready',
    'previous', previous, 'call_id', desk.call_id or '')
  wake('desk_ready')
  return { 'desk_id', desk_id, 'agency', desk.agency, 'state', 'ready', 'previous', previous,
    'changed', '1' }
end)
