-- incident_note: appends one note to a call's incident (creating the incident if it has none
-- yet). Notes are never edited and never conflict: two call-takers' notes both stay, in the
-- order Redis took them; the form's version does not change.
-- ARGV[3..] call_id, by, text
-- Reply: call_id, index (0-based place of the note), at_ms, by
return run(function()
  local call_id = arg_id(3, 'call_id')
  local by = arg_text(4)
  if by == '' then refuse('by is required: who writes the note') end
  local text = arg_text(5)
  if text == '' then refuse('a note needs text') end
  local call = load_call(call_id)
  if not call then refuse('unknown call ' .. call_id) end
  local agency = owning_agency(call)

  local key = PREFIX .. 'incident:' .. call_id
  local now = int_str(NOW)
  if redis.call('EXISTS', key) == 0 then
    redis.call('HSET', key, 'call_id', call_id, 'agency', agency, 'version', '0', 'created_ms', now)
  end
  redis.call('HSET', key, 'updated_ms', now, 'updated_by', by)
  local note = cjson.encode({ at_ms = NOW, by = by, text = text })
  local count = redis.call('RPUSH', PREFIX .. 'incident:' .. call_id .. ':notes', note)
  emit('incident_note', 'call_id', call_id, 'queue', call.queue or '', 'agency',
    redis.call('HGET', key, 'agency'), 'index', int_str(count - 1), 'by', by, 'text', text)
  return { 'call_id', call_id, 'index', int_str(count - 1), 'at_ms', now, 'by', by }
end)
