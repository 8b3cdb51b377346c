#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what the tests need on a fresh machine
# (npm packages such as Azurite; NuGet packages via restore), then runs every test project.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --loglevel=error
dotnet test ServerlessGateway.sln --nologo "$@"
