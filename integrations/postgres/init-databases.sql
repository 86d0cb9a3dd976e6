-- Run once by the postgres image on an empty volume (docker-entrypoint-initdb.d), as
-- POSTGRES_USER, after POSTGRES_DB (optuna) exists. MLflow gets its own database: Optuna and
-- MLflow both keep an alembic_version table.
CREATE DATABASE mlflow;
