-- alert_ack: a supervisor acknowledges an active alert: who and when are kept on it, and an
-- event alert_ack on the audit trail. A critical alert stops sounding once acknowledged.
-- Refused for an unknown alert, one already cleared, or one already acknowledged at its level.
-- ARGV[3..] alert_id, by (the supervisor's name)
-- Reply: the alert's fields
return run(function()
  local alert_id = arg_id(3, 'alert_id')
  local by = arg_text(4)
  if by == '' or #by > 100 then refuse('who acknowledges (by) is required, at most 100 characters') end
  local alert = load_hash(alert_key(alert_id))
  if not alert then refuse('unknown alert ' .. alert_id) end
  if alert.cleared_ms ~= '' then refuse('alert ' .. alert_id .. ' was cleared already') end
  if alert.acked_by ~= '' then
    refuse('alert ' .. alert_id .. ' was acknowledged by ' .. alert.acked_by .. ' already')
  end
  local now = int_str(NOW)
  redis.call('HSET', alert_key(alert_id), 'acked_by', by, 'acked_ms', now)
  emit('alert_ack', 'alert_id', alert_id, 'kind', alert.kind, 'subject', alert.subject, 'level', alert.level,
    'acked_by', by)
  alert.acked_by, alert.acked_ms = by, now
  local reply = {}
  for k, v in pairs(alert) do reply[#reply + 1] = k; reply[#reply + 1] = v end
  return reply
end)
