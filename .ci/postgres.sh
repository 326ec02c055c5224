# Sourced by .ci/run: starts the Debian PostgreSQL cluster on loopback and exports C360_TEST_PG_DSN for the tests
# (tests/publishing/test_postgres_publication.py). Safe to source again: every step is idempotent.
# When something fails it says so and exports nothing: the PostgreSQL tests are then skipped with a reason.
#
# The test user c360_ci is a superuser with a password; it connects over TCP to 127.0.0.1 with password
# (scram-sha-256) authentication, as Debian's pg_hba.conf allows for host connections by default.

_c360_pg_setup() {
  local version port hba
  if [ "$(id -u)" != "0" ]; then
    echo "not root: not starting PostgreSQL (set C360_TEST_PG_DSN yourself to run the PostgreSQL tests)"
    return 1
  fi
  version=$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -1)
  if [ -z "$version" ]; then
    echo "no PostgreSQL server installed (apt-get install postgresql)"
    return 1
  fi
  pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" {found=1} END {exit !found}' \
    || pg_createcluster "$version" main >/dev/null || return 1
  port=$(pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" {print $3}')
  hba=/etc/postgresql/$version/main/pg_hba.conf
  # Password authentication on loopback TCP (Debian's default has it; make sure a customized file does too).
  if ! grep -Eq '^[[:space:]]*host[[:space:]]+all[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+(scram-sha-256|md5)' "$hba"; then
    echo "host all all 127.0.0.1/32 scram-sha-256" >>"$hba"
    pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" && $4 == "online" {found=1} END {exit !found}' \
      && pg_ctlcluster "$version" main reload
  fi
  if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" && $4 == "online" {found=1} END {exit !found}'; then
    pg_ctlcluster "$version" main start || return 1
  fi
  local i
  for i in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 -p "$port" && break
    sleep 1
  done
  pg_isready -q -h 127.0.0.1 -p "$port" || { echo "PostgreSQL does not accept connections on 127.0.0.1:$port"; return 1; }
  # Role and password every time (a role left from an older set-up may have none), database in UTF8.
  [ "$(su postgres -c "psql -p $port -qtAc \"select 1 from pg_roles where rolname='c360_ci'\"")" = "1" ] \
    || su postgres -c "psql -p $port -qc 'create role c360_ci login superuser'" || return 1
  su postgres -c "psql -p $port -qc \"alter role c360_ci login superuser password 'c360_ci'\"" || return 1
  [ "$(su postgres -c "psql -p $port -qtAc \"select 1 from pg_database where datname='c360_test'\"")" = "1" ] \
    || su postgres -c "psql -p $port -qc \"create database c360_test owner c360_ci encoding 'UTF8' lc_collate 'C' lc_ctype 'C' template template0\"" \
    || return 1
  export C360_TEST_PG_DSN="postgresql://c360_ci:c360_ci@127.0.0.1:${port}/c360_test"
  echo "PostgreSQL $version running on 127.0.0.1:$port for the tests (C360_TEST_PG_DSN exported)"
}

if ! _c360_pg_setup; then
  echo "WARNING: no PostgreSQL server for the tests: the PostgreSQL publication tests will be skipped" >&2
fi
unset -f _c360_pg_setup
