-- eido_push_result: how one attempt to push a call's EIDO document to an agency's CAD ended.
-- sent: the agency has the document it was sent (when a newer one waits meanwhile, the agency
-- stays pending for that one). failed: the agency stays failed until a later try or a resend
-- succeeds; retrying says whether rq tries again by itself. The call leaves cad_pushes:open
-- once every agency has the current document.
-- ARGV[3..] call_id, agency, seq (of the document sent), outcome (sent or failed),
--           http_status ('' when no answer), error ('' when sent), retrying ('1' or '0')
-- Reply: call_id, agency, status, attempts, current ('1' when seq is the newest document)
local VERDICTS = { sent = true, failed = true }

return run(function()
  local call_id = arg_id(3, 'call_id')
  local agency = arg_id(4, 'agency')
  local seq = arg_int(5, 'seq', 1)
  local verdict = arg_text(6)
  local http_status = arg_text(7)
  local err = string.sub(arg_text(8), 1, 500)
  local retrying = arg_text(9)
  if not VERDICTS[verdict] then refuse('outcome must be sent or failed, got ' .. string.format('%q', verdict)) end
  if retrying ~= '1' and retrying ~= '0' then refuse('retrying must be 1 or 0') end
  local key = PREFIX .. 'cad_push:' .. call_id
  local push = load_hash(key)
  if not push or not push[agency .. '.status'] then
    refuse('no CAD push of call ' .. call_id .. ' to ' .. agency)
  end

  local now = int_str(NOW)
  local current = tonumber(push[agency .. '.seq']) == seq
  local attempts = redis.call('HINCRBY', key, agency .. '.attempts', 1)
  local push_status = push[agency .. '.status']
  if current and verdict == 'sent' then
    push_status = 'sent'
    redis.call('HSET', key, agency .. '.sent_ms', now, agency .. '.sent_seq', int_str(seq), agency .. '.last_error', '')
  elseif current then
    push_status = 'failed'
    redis.call('HSET', key, agency .. '.last_error', err, agency .. '.retrying', retrying)
  elseif verdict == 'sent' then
    redis.call('HSET', key, agency .. '.sent_ms', now, agency .. '.sent_seq', int_str(seq))
  end
  redis.call('HSET', key, agency .. '.status', push_status, agency .. '.last_http_status', http_status,
    agency .. '.last_attempt_ms', now, 'updated_ms', now)

  local open = false
  for a in string.gmatch(push.agencies or '', '[^,]+') do
    local s = a == agency and push_status or push[a .. '.status']
    if s ~= 'sent' then open = true end
  end
  if not open then redis.call('ZREM', PREFIX .. 'cad_pushes:open', call_id) end
  emit('cad_push', 'call_id', call_id, 'queue', push.queue, 'agency', agency, 'status', push_status,
    'attempts', int_str(attempts), 'http_status', http_status, 'error', err, 'retrying', retrying,
    'seq', int_str(seq))
  return { 'call_id', call_id, 'agency', agency, 'status', push_status, 'attempts', int_str(attempts),
    'current', current and '1' or '0' }
end)
