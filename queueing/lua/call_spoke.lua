-- call_spoke: a caller in the menu spoke for [ivr] speech_to_human_s without pressing a key
-- (Asterisk's TALK_DETECT; telephony/speech.py): ivr -> the general queue at the general
-- priority, route_reason spoke, priority_reason no_choice. Once only, whichever bridge asks
-- first: a call no longer in the ivr (a key already routed it, another bridge's call_spoke,
-- a hang-up) is left as it is. The menu's path gets the step "spoke", when and for how long.
-- ARGV[3..] call_id, priority (the general queue's, 0-99), speech_ms (how long the caller had
--          been speaking when the detector decided)
-- Reply: call_id, queued ('1' or '0'), and when queued: queue, queue_score, position;
--        when not: state (the call's state, which it keeps)
return run(function()
  local call_id = arg_id(3, 'call_id')
  local priority = arg_int(4, 'priority', 0, 99)
  local speech_ms = arg_int(5, 'speech_ms', 0, 3600000)
  local call = load_call(call_id)
  if not call then refuse('unknown call ' .. call_id) end
  if call.state ~= 'ivr' then return { 'call_id', call_id, 'queued', '0', 'state', call.state } end
  local at_ms = math.max(0, NOW - tonumber(call.arrived_ms))
  local ivr_path = cjson.encode({ { key = '', result = 'spoke', at_ms = at_ms, speech_ms = speech_ms } })
  local route_reason = 'spoke'
  local reply = queue_call(call_id, call, GENERAL, priority, '', route_reason, '', ivr_path, 'no_choice')
  table.insert(reply, 3, 'queued')
  table.insert(reply, 4, '1')
  return reply
end)
