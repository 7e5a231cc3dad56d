-- call_to_idle_desk: [ivr] mode human_first. At arrival, when a desk of any agency is ready
-- and no caller waits in any queue, the caller skips the menu: ivr -> queued in the general
-- queue (which every desk serves) at the general priority, route_reason desk_free, no choice.
-- A dispatcher then rings the idle desk at once; the call-taker asks what the emergency is and
-- transfers if needed. Checked and queued in one step, so a caller never jumps ahead of one
-- already waiting, and one who finds every desk busy simply hears the menu.
-- ARGV[3..] call_id, priority (the general queue's, 0-99), agencies (one or more)
-- Reply: call_id, queued ('1' or '0'), and when queued: queue, queue_score, position
--        ('0' with why: 'no_idle_desk' or 'callers_waiting')
return run(function()
  local call_id = arg_id(3, 'call_id')
  local priority = arg_int(4, 'priority', 0, 99)
  if #ARGV < 5 then refuse('call_to_idle_desk needs at least one agency') end
  local call = load_call(call_id)
  if not call then refuse('unknown call ' .. call_id) end
  if call.state ~= 'ivr' then
    refuse('call ' .. call_id .. ' is ' .. call.state .. '; only a call in the ivr can be queued')
  end
  local idle, waiting = false, redis.call('ZCARD', queue_key(GENERAL)) > 0
  for i = 5, #ARGV do
    local agency = check_id(ARGV[i], 'agency')
    if agency == GENERAL then refuse('"' .. GENERAL .. '" is a queue, not an agency') end
    if redis.call('ZCARD', ready_key(agency)) > 0 then idle = true end
    if redis.call('ZCARD', queue_key(agency)) > 0 then waiting = true end
  end
  if waiting then return { 'call_id', call_id, 'queued', '0', 'why', 'callers_waiting' } end
  if not idle then return { 'call_id', call_id, 'queued', '0', 'why', 'no_idle_desk' } end
  local route_reason = 'desk_free'
  local reply = queue_call(call_id, call, GENERAL, priority, '', route_reason, '', '', 'no_choice')
  table.insert(reply, 3, 'queued')
  table.insert(reply, 4, '1')
  return reply
end)
