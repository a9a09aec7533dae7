#!/usr/bin/env bash
# Tag a release: scripts/release.sh VERSION (e.g. 0.2.0). Refuses unless VERSION is semver, the
# tree is clean, pyproject.toml says VERSION, CHANGELOG.md has its dated entry and the tag is new.
# Then tags HEAD vVERSION, writes that commit under the entry (the upgrade test reads it there: a
# commit cannot hold its own hash, so this is the next commit's) and prints what to push.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
refuse() { printf 'release: %s\n' "$*" >&2; exit 1; }

[ $# -eq 1 ] || refuse "usage: scripts/release.sh VERSION (e.g. 0.2.0)"
version="$1" tag="v$1"
semver='^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$'
[[ "$version" =~ $semver ]] || refuse "'$version' is not a semantic version (MAJOR.MINOR.PATCH)"
[ -z "$(git status --porcelain)" ] || refuse "the working tree is not clean (git status)"
declared=$(python3 -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
[ "$declared" = "$version" ] || refuse "pyproject.toml says version $declared, not $version"
heading=$(awk -v h="## [$version]" 'index($0, h) == 1 { print; exit }' CHANGELOG.md)
[ -n "$heading" ] || refuse "CHANGELOG.md has no '## [$version] - YYYY-MM-DD' entry"
day="${heading#"## [$version] - "}"
[[ "$day" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}$ ]] && date -d "$day" >/dev/null 2>&1 \
  || refuse "CHANGELOG.md's entry for $version has no date: '## [$version] - YYYY-MM-DD'"
if git rev-parse -q --verify "refs/tags/$tag" >/dev/null; then refuse "tag $tag exists already"; fi

git tag -a "$tag" -m "$tag: see CHANGELOG.md"
commit=$(git rev-parse HEAD)
awk -v h="$heading" -v c="$commit" '{ print } $0 == h { print ""; print "Commit: " c }' \
  CHANGELOG.md >CHANGELOG.md.new && mv CHANGELOG.md.new CHANGELOG.md
log "tagged $tag on $commit"
cat <<EOF
Now commit CHANGELOG.md (it names the release's commit for the next upgrade test), then push:
  git commit -m "CHANGELOG: $tag is $commit" -- CHANGELOG.md
  git push origin HEAD $tag
EOF
