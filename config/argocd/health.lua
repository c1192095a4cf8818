-- Argo CD health check for the mqtt.mqttoperator.io kinds: MQTTBroker,
-- MQTTUser, MQTTACL and MQTTBan. It reads the kstatus conditions that
-- mqtt-operator writes (Ready, Reconciling, Stalled, Suspended) and the
-- generation the operator last observed. Argo CD runs it without the Lua
-- string library, so it uses only the base and table functions.
local hs = {}

local function find(conditions, kind)
  if conditions == nil then
    return nil
  end
  for _, c in ipairs(conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local function describe(c)
  if c.message ~= nil and c.message ~= "" then
    return c.reason .. ": " .. c.message
  end
  return c.reason
end

local generation = obj.metadata.generation or 0
local st = obj.status
local conditions = nil
if st ~= nil then
  conditions = st.conditions
end

if obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Being deleted"
  local ready = find(conditions, "Ready")
  if ready ~= nil and ready.reason == "Deleting" then
    hs.message = describe(ready)
  end
  return hs
end

-- Suspended only while the spec still asks for it: a stale condition
-- left from before suspend was turned off must not hide new work.
local suspended = find(conditions, "Suspended")
if obj.spec ~= nil and obj.spec.suspend == true and suspended ~= nil and suspended.status == "True" then
  hs.status = "Suspended"
  hs.message = describe(suspended)
  return hs
end

-- An object the operator has not processed yet has no status, or
-- observedGeneration 0 (the API server's default), or an older generation.
if st == nil or st.observedGeneration == nil or st.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. generation
  return hs
end

-- A True condition of this kind decides the health, with its reason and
-- message; Stalled first, since a stalled object is not making progress.
local function when(kind, status)
  local c = find(conditions, kind)
  if c ~= nil and c.status == "True" then
    return {status = status, message = describe(c)}
  end
  return nil
end

local verdict = when("Stalled", "Degraded") or when("Reconciling", "Progressing")
if verdict ~= nil then
  return verdict
end

local ready = find(conditions, "Ready")
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message
  return hs
end
if ready ~= nil then
  hs.status = "Progressing"
  hs.message = describe(ready)
  return hs
end

hs.status = "Progressing"
hs.message = "Waiting for the Ready condition"
return hs
