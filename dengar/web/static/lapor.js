/* The web form's helpers: the map pin, "gunakan lokasi saya", the desa list
   of the chosen kecamatan, and the print button. The form works without
   this script (except the map). */
(function () {
  "use strict";

  function setPoint(lat, lon, source) {
    document.getElementById("f-lat").value = lat.toFixed(6);
    document.getElementById("f-lon").value = lon.toFixed(6);
    document.getElementById("f-sumber").value = source;
    var status = document.getElementById("pin-status");
    if (status) {
      status.textContent = "Titik lokasi: " + lat.toFixed(5) + ", " + lon.toFixed(5) +
        (source === "perangkat" ? " (dari perangkat Anda)" : " (ditandai di peta)");
    }
  }

  function initMap() {
    var box = document.getElementById("map");
    if (!box || typeof L === "undefined") { return; }
    document.getElementById("map-tools").hidden = false;
    var lat0 = parseFloat(box.dataset.lat), lon0 = parseFloat(box.dataset.lon);
    var map = L.map(box).setView([lat0, lon0], parseInt(box.dataset.zoom, 10));
    L.tileLayer(box.dataset.tiles, { maxZoom: 19, attribution: box.dataset.attribution }).addTo(map);
    L.Icon.Default.imagePath = "/static/vendor/leaflet/images/";
    var marker = null;
    function place(lat, lon, source) {
      if (marker) { marker.setLatLng([lat, lon]); }
      else {
        marker = L.marker([lat, lon], { draggable: true, keyboard: true, title: "Titik kejadian" }).addTo(map);
        marker.on("dragend", function () {
          var p = marker.getLatLng(); setPoint(p.lat, p.lng, "pin");
        });
      }
      setPoint(lat, lon, source);
    }
    var lat = parseFloat(document.getElementById("f-lat").value);
    var lon = parseFloat(document.getElementById("f-lon").value);
    if (!isNaN(lat) && !isNaN(lon)) {
      place(lat, lon, document.getElementById("f-sumber").value || "pin");
      map.setView([lat, lon], 15);
    }
    map.on("click", function (e) { place(e.latlng.lat, e.latlng.lng, "pin"); });
    var button = document.getElementById("use-location");
    if (!navigator.geolocation) { button.hidden = true; return; }
    button.addEventListener("click", function () {
      var status = document.getElementById("pin-status");
      status.textContent = "Mencari lokasi Anda…";
      navigator.geolocation.getCurrentPosition(function (pos) {
        place(pos.coords.latitude, pos.coords.longitude, "perangkat");
        map.setView([pos.coords.latitude, pos.coords.longitude], 16);
      }, function () {
        status.textContent = "Lokasi perangkat tidak dapat dibaca. Izinkan akses lokasi, " +
          "atau ketuk peta untuk menandai titik.";
      }, { enableHighAccuracy: true, timeout: 15000 });
    });
  }

  function initDesa() {
    var kec = document.getElementById("f-kecamatan");
    var desa = document.getElementById("f-desa");
    if (!kec || !desa) { return; }
    function filter() {
      var groups = desa.querySelectorAll("optgroup");
      for (var i = 0; i < groups.length; i++) {
        var mine = !kec.value || groups[i].dataset.kecamatan === kec.value;
        groups[i].hidden = !mine;
        groups[i].disabled = !mine;
      }
      var chosen = desa.options[desa.selectedIndex];
      if (chosen && chosen.parentNode.disabled) { desa.value = ""; }
    }
    kec.addEventListener("change", filter);
    filter();
  }

  function initPrint() {
    var button = document.getElementById("print");
    if (!button) { return; }
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    initMap(); initDesa(); initPrint();
  });
})();
