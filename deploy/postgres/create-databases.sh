#!/bin/sh
# Runs once, when the postgres service starts on an empty data volume (the image's
# /docker-entrypoint-initdb.d/ hook): creates ledgerpilot's store database and the AIS
# database, both owned by POSTGRES_USER. Later starts skip it; to add a database to an
# existing volume, run the same CREATE DATABASE by hand (see docs/deploy.md).
set -eu

for db in "${STORE_DATABASE:-ledgerpilot}" "${AIS_DATABASE:-ais}"; do
    # \gexec runs the generated statement only when the database is missing; %I quotes it.
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres -v db="$db" <<'SQL'
SELECT format('CREATE DATABASE %I OWNER %I', :'db', current_user)
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SQL
done
