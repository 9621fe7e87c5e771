#!/bin/sh
# A plugin that reads its requests and never answers (its stdout stays open).
while read -r line; do
  :
done
