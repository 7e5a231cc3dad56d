-- call_enqueue: ivr -> queued (queue_call in the prelude: the score, the number's policy).
-- ARGV[3..] call_id, queue, priority (0 = highest, up to 99), choice, route_reason,
--          language (the one the caller used in the menu; empty keeps the arrival's),
--          ivr_path (JSON array of the menu's steps: key, at_ms since arrival, language; may be
--          empty), priority_reason (empty: from the route and the number's policy)
-- Reply: call_id, queue, queue_score, position (1 = next to be served in that queue)
return run(function()
  local call_id = arg_id(3, 'call_id')
  local queue = arg_id(4, 'queue')
  local priority = arg_int(5, 'priority', 0, 99)
  local choice = arg_text(6)
  local route_reason = arg_text(7)
  local language = arg_text(8)
  local ivr_path = arg_text(9)
  local priority_reason = arg_text(10)
  if #ivr_path > 4000 then refuse('ivr_path is longer than 4000 characters') end
  if ivr_path ~= '' then
    local ok, steps = pcall(cjson.decode, ivr_path)
    if not ok or type(steps) ~= 'table' then refuse('ivr_path must be a JSON array, got ' .. string.sub(ivr_path, 1, 40)) end
  end
  local PRIORITY_REASONS = { no_choice = true, chosen = true, policy = true, supervisor = true, transfer = true,
    requeued = true }
  if priority_reason ~= '' and not PRIORITY_REASONS[priority_reason] then
    refuse('priority_reason ' .. string.format('%q', priority_reason) .. ' is not one of no_choice, chosen, policy, '
      .. 'supervisor, transfer')
  end

  local call = load_call(call_id)
  if not call then refuse('unknown call ' .. call_id) end
  if call.state ~= 'ivr' then
    refuse('call ' .. call_id .. ' is ' .. call.state .. '; only a call in the ivr can be queued')
  end
  return queue_call(call_id, call, queue, priority, choice, route_reason, language, ivr_path, priority_reason)
end)
