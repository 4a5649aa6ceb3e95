#!/bin/sh
# The app as a desktop launcher starts it: none of the variables that configure an environment
# (setup-tests.mjs: the first-run setup and the settings file). APP is the binary under test.
exec env -u STEPUP_ENVIRONMENT_ID -u STEPUP_API_BASE_URL -u STEPUP_APP_ORIGIN "$APP" "$@"
