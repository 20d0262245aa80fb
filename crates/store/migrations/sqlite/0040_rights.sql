-- Rights rules (spec 04 §1.4): one row per (object, subject). The object is a section
-- ("sectionDbId"), a catalog ("catalogDbId"), a view of a catalog ("catalogDbId",
-- "viewDbId") or a record ("catalogDbId", "recordDbId"). The subject is every employee
-- ("subjectAttr" 'allUsers'), one employee ('id', "subjectRecordDbId" = the $users dbId)
-- or a right group (the dbId of a link field of $users, with the linked record).
-- "privilege" is one code (the rule implies every lower one); "fields" the field rights
-- as JSON {fieldDbId: "edit"|"view"|"hide"} or NULL.
CREATE TABLE rights (
    "dbId" INTEGER PRIMARY KEY AUTOINCREMENT,
    "sectionDbId" INTEGER,
    "catalogDbId" INTEGER,
    "viewDbId" INTEGER,
    "recordDbId" INTEGER,
    "subjectAttr" TEXT NOT NULL,
    "subjectCatalogDbId" INTEGER,
    "subjectRecordDbId" INTEGER,
    privilege TEXT NOT NULL,
    fields TEXT
);
CREATE INDEX rights_section ON rights ("sectionDbId");
CREATE INDEX rights_catalog ON rights ("catalogDbId", "viewDbId", "recordDbId");
