#!/bin/sh
# A strfry plugin in shell: rejects every event, echoing its id.
while read -r line; do
  id=$(printf '%s' "$line" | sed -n 's/^{"type":"new","event":{"id":"\([0-9a-f]*\)".*/\1/p')
  printf '{"id":"%s","action":"reject","msg":"blocked: closed for writing"}\n' "$id"
done
