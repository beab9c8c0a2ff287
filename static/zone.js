// A new form's time zone starts as the browser's own. Progressive
// enhancement: without this script the field keeps what the server put in
// (UTC) and still offers every zone. Only fields the server marks
// `data-browser-zone` (a form in which no zone was chosen yet) are touched,
// and only while they still hold the server's value; a zone the field's list
// does not know is left out (the server would refuse it).
(function () {
  'use strict';
  var zone;
  try {
    zone = window.Intl && Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (e) { return; }
  if (!zone) return;
  var fields = document.querySelectorAll('input[data-browser-zone]');
  Array.prototype.forEach.call(fields, function (input) {
    var list = input.list;
    if (!list || input.value !== input.defaultValue) return;
    var known = Array.prototype.some.call(list.options, function (option) {
      return option.value === zone;
    });
    if (known) input.value = zone;
  });
})();
