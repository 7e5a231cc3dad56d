-- eido_push_queue: a call's EIDO document waits to be pushed to agencies' CAD (api/cad_push.py).
-- The document is kept in cad_push:{call_id} until every agency has it: a CAD that is down
-- loses nothing. A newer document (the incident changed, or a resend) replaces the waiting one
-- and restarts the agencies' tries; seq tells the jobs which document is the current one.
-- ARGV[3..] call_id, document (JSON text), by (who asked: a user, or "dispatch"), then the agency ids
-- Reply: call_id, seq, queue
local MAX_DOCUMENT = 1048576  -- bytes; an EIDO of one call is a few kB

return run(function()
  local call_id = arg_id(3, 'call_id')
  local document = arg_text(4)
  local by = arg_text(5)
  if document == '' then refuse('document is required') end
  if #document > MAX_DOCUMENT then refuse('document is larger than ' .. int_str(MAX_DOCUMENT) .. ' bytes') end
  if #ARGV < 6 then refuse('at least one agency is required') end
  local agencies = {}
  for i = 6, #ARGV do agencies[#agencies + 1] = arg_id(i, 'agency') end
  local call = load_call(call_id)
  if not call then refuse('unknown call ' .. call_id) end

  local key = PREFIX .. 'cad_push:' .. call_id
  local queue = call.queue
  if queue == nil or queue == '' then queue = GENERAL end
  local now = int_str(NOW)
  local seq = redis.call('HINCRBY', key, 'seq', 1)
  local known = {}
  for a in string.gmatch(redis.call('HGET', key, 'agencies') or '', '[^,]+') do known[a] = true end
  local list = {}
  for a in pairs(known) do list[#list + 1] = a end
  for _, agency in ipairs(agencies) do
    if not known[agency] then known[agency] = true; list[#list + 1] = agency end
  end
  table.sort(list)
  redis.call('HSET', key, 'call_id', call_id, 'queue', queue, 'document', document,
    'agencies', table.concat(list, ','), 'updated_ms', now, 'by', by)
  redis.call('HSETNX', key, 'created_ms', now)
  for _, agency in ipairs(agencies) do
    redis.call('HSET', key, agency .. '.status', 'pending', agency .. '.seq', int_str(seq),
      agency .. '.attempts', '0', agency .. '.retrying', '1', agency .. '.last_error', '',
      agency .. '.last_http_status', '', agency .. '.queued_ms', now)
    emit('cad_push', 'call_id', call_id, 'queue', queue, 'agency', agency, 'status', 'pending',
      'attempts', '0', 'seq', int_str(seq), 'by', by)
  end
  redis.call('ZADD', PREFIX .. 'cad_pushes:open', 'NX', now, call_id)
  return { 'call_id', call_id, 'seq', int_str(seq), 'queue', queue }
end)
