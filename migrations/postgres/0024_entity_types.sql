-- ELEVATE's entity types and entities (`entity-type/...`, `entity/...`): the
-- value catalogues behind profile fields, per organisation, the default
-- organisation's being every organisation's fallback. The claims
-- `entity_type_value` and `entity_value` keep values unique (a type's value
-- in its organisation, an entity's in its type); a deleted row stays with
-- `deleted_at` set, as ELEVATE's soft delete.
CREATE TABLE entity_types (
    id                    bigint  PRIMARY KEY,
    entity_type_uuid      text    NOT NULL UNIQUE,
    organization_id       bigint  NOT NULL,
    value                 text    NOT NULL,
    label                 text    NOT NULL,
    status                text    NOT NULL,
    data_type             text    NOT NULL,
    allow_filtering       boolean NOT NULL,
    has_entities          boolean NOT NULL,
    allow_custom_entities boolean NOT NULL,
    model_names           text    NOT NULL,
    parent_id             bigint,
    created_by            bigint,
    updated_by            bigint,
    created_at            text    NOT NULL,
    updated_at            text    NOT NULL,
    deleted_at            text
);
CREATE INDEX entity_types_by_value ON entity_types (value, organization_id) WHERE deleted_at IS NULL;
CREATE INDEX entity_types_by_organization ON entity_types (organization_id, id) WHERE deleted_at IS NULL;

CREATE TABLE entities (
    id             bigint PRIMARY KEY,
    entity_uuid    text   NOT NULL UNIQUE,
    entity_type_id bigint NOT NULL,
    value          text   NOT NULL,
    label          text   NOT NULL,
    status         text   NOT NULL,
    type           text   NOT NULL,
    created_by     bigint,
    updated_by     bigint,
    created_at     text   NOT NULL,
    updated_at     text   NOT NULL,
    deleted_at     text
);
CREATE INDEX entities_by_type ON entities (entity_type_id, id) WHERE deleted_at IS NULL;
CREATE INDEX entities_by_value ON entities (entity_type_id, value) WHERE deleted_at IS NULL;

INSERT INTO id_counters (kind, last_id) VALUES ('entity_type', 0), ('entity', 0);
