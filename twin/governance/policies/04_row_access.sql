-- Row access by department through the mapping table; admins and auditors see every row.
CREATE OR REPLACE ROW ACCESS POLICY advisor_filter AS (dept STRING) RETURNS BOOLEAN ->
  IS_ROLE_IN_SESSION('WEALTH_ADMIN')
  OR IS_ROLE_IN_SESSION('COMPLIANCE_AUDITOR')
  OR EXISTS (
    SELECT 1 FROM governance.role_department_map m
    WHERE IS_ROLE_IN_SESSION(m.role_name) AND m.department = dept
  )
  COMMENT = 'Department-scoped row access (advisors: Wealth, tellers: Retail)';

-- Tables mixing customer rows with fund rows (gold.risk_metrics): a fund's risk is published to every
-- reader like the aggregate marts, anything else follows the department rule of advisor_filter. Only
-- the 'fund' entity type is open, so a new entity type is department-scoped until decided otherwise.
CREATE OR REPLACE ROW ACCESS POLICY customer_entity_filter AS (entity STRING, dept STRING) RETURNS BOOLEAN ->
  entity = 'fund'
  OR IS_ROLE_IN_SESSION('WEALTH_ADMIN')
  OR IS_ROLE_IN_SESSION('COMPLIANCE_AUDITOR')
  OR EXISTS (
    SELECT 1 FROM governance.role_department_map m
    WHERE IS_ROLE_IN_SESSION(m.role_name) AND m.department = dept
  )
  COMMENT = 'Fund rows open to all; customer rows department-scoped like advisor_filter';
