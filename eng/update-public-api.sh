#!/usr/bin/env bash
# Lists every public symbol that is not yet in a library's PublicAPI.*.txt in its PublicAPI.Unshipped.txt (the RS0016
# code fix of Microsoft.CodeAnalysis.PublicApiAnalyzers, applied by `dotnet format`). Run it after adding public API;
# review the diff: a removed line in PublicAPI.Shipped.txt is a breaking change.
set -euo pipefail
cd "$(dirname "$0")/.."
for proj in src/*/*.csproj; do
  dir=$(dirname "$proj")
  for f in PublicAPI.Shipped.txt PublicAPI.Unshipped.txt; do
    [ -f "$dir/$f" ] || printf '#nullable enable\n' > "$dir/$f"
  done
  dotnet format analyzers "$proj" --diagnostics RS0016 RS0017 RS0037 --severity info
done
