import { STATUSES } from '../filters.js';

/**
 * The filter form: date range (bare dates; the end day is included, in
 * UTC), send statuses and deployment. `fields` picks which show.
 */
export function SnapshotFilters({ filter, onApply, fields = ['dates', 'status', 'deployment'], submitLabel = 'Apply filters' }) {
  const submit = (e) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    onApply({
      startDate: form.get('start_date') ?? '',
      endDate: form.get('end_date') ?? '',
      deploymentId: (form.get('deployment_id') ?? '').trim(),
      remoteSendStatus: form.getAll('status'),
    });
  };
  return (
    <form class="filters" onSubmit={submit} aria-label="Filters">
      {fields.includes('dates') && (
        <>
          <label>
            From (UTC)
            <input type="date" name="start_date" defaultValue={filter.startDate} aria-describedby="dates-hint" />
          </label>
          <label>
            To (UTC, included)
            <input type="date" name="end_date" defaultValue={filter.endDate} aria-describedby="dates-hint" />
          </label>
        </>
      )}
      {fields.includes('status') && (
        <fieldset>
          <legend>Send status</legend>
          {STATUSES.map((s) => (
            <label class="inline" key={s}>
              <input type="checkbox" name="status" value={s} defaultChecked={filter.remoteSendStatus.includes(s)} />
              {s.toLowerCase()}
            </label>
          ))}
        </fieldset>
      )}
      {fields.includes('deployment') && (
        <label class="grow">
          Deployment id
          <input name="deployment_id" defaultValue={filter.deploymentId} placeholder="any" spellcheck={false} autocomplete="off" />
        </label>
      )}
      <button type="submit">{submitLabel}</button>
      {fields.includes('dates') && (
        <p id="dates-hint" class="hint full">
          Dates are UTC days; the end date includes that whole day.
        </p>
      )}
    </form>
  );
}
