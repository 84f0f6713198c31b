#!/usr/bin/env bash
# Mutation check for the simulation: copies src/raft and test/sim into a scratch tree under /tmp,
# applies ONE known-bad edit to the COPY of the core, and runs the long simulation against it.
# The repository's core is never touched. A good simulation reports the mutant (non-zero exit,
# a failing seed and the invariant it broke). See test/sim/README.md for the mutants.
#
#   test/sim/mutate.sh older-term-commit [seeds] [first-seed]
#   MUTANT_SEED=488 test/sim/mutate.sh older-term-commit      # replay one seed against the mutant
set -euo pipefail

mutant="${1:?usage: mutate.sh <older-term-commit|no-uptodate-check|vote-before-persist> [seeds] [first-seed]}"
seeds="${2:-2000}"
from="${3:-1}"
repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d /tmp/tetcd-mutant.XXXXXX)"
mkdir -p "$work/src" "$work/test"
cp -r "$repo/src/raft" "$work/src/raft"
cp -r "$repo/test/sim" "$work/test/sim"
cp "$repo/package.json" "$repo/tsconfig.json" "$work/"
ln -s "$repo/node_modules" "$work/node_modules"

# Each edit must change exactly the line it names, or the check is void.
apply() { # file perl-substitution
  local before after
  before="$(md5sum < "$work/src/raft/$1")"
  perl -0pi -e "$2" "$work/src/raft/$1"
  after="$(md5sum < "$work/src/raft/$1")"
  if [ "$before" = "$after" ]; then echo "mutation did not apply to src/raft/$1 (core changed?)" >&2; exit 2; fi
}
case "$mutant" in
  # Raft §5.4.2 removed: the leader commits by counting replicas of entries of older terms.
  older-term-commit) apply raft.ts 's/if \(mci <= this\.log\.committed \|\| this\.log\.term\(mci\) !== this\.term\) return false;/if (mci <= this.log.committed) return false;/' ;;
  # Raft §5.4.1 removed: voters grant votes to candidates whose log is behind theirs.
  no-uptodate-check) apply log.ts 's/return lastTerm > myTerm \|\| \(lastTerm === myTerm && lastIndex >= this\.lastIndex\(\)\);/void lastIndex; void myTerm; return true;/' ;;
  # Vote grants leave before the vote is durable: a crash lets a node vote twice in one term.
  vote-before-persist) apply raft.ts "s/msg\.afterPersist = msg\.type === 'MsgAppResp' \|\| msg\.type === 'MsgVoteResp';/msg.afterPersist = msg.type === 'MsgAppResp';/" ;;
  *) echo "unknown mutant $mutant" >&2; exit 2 ;;
esac
echo "mutant $mutant in $work (diff against the repo's core follows)"
diff -r "$repo/src/raft" "$work/src/raft" || true
cd "$work"
set +e
if [ -n "${MUTANT_SEED:-}" ]; then
  SIM_SEED="$MUTANT_SEED" node --import tsx test/sim/replay.ts   # one seed (add SIM_TRACE=1 for its trace)
else
  SIM_SEEDS="$seeds" SIM_FROM="$from" node --import tsx test/sim/long.ts
fi
status=$?
set -e
rm -rf "$work"
exit "$status"
